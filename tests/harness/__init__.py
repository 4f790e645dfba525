"""Test harness helpers shared by the molecule scenarios and the lab tests."""
