"""homelab.mailserver.mail_domains: validation, merging and conflicts, on the chapter's world."""

from __future__ import annotations

import copy
import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.homelab.mailserver.plugins.filter.mail_domains import (
    FilterModule,
    mail_domains,
    mail_domains_server,
)

EXAMPLE = pathlib.Path(__file__).resolve().parents[4] / "inventories" / "example" / "group_vars"


def group_vars(name):
    return yaml.safe_load((EXAMPLE / (name + ".yml")).read_text())


@pytest.fixture
def chapter():
    """The two domain variables of inventories/example, as bigboy sees them."""
    data = {}
    data.update(group_vars("my_site_com"))
    data.update(group_vars("another_site_com"))
    return data


@pytest.fixture
def server():
    servers = group_vars("mail_servers")
    return {
        "access": servers["sendmail_access"],
        "aliases": servers["sendmail_aliases"],
        "generics_domains": servers["sendmail_generics_domains"],
        "masquerade_domains": servers["sendmail_masquerade_domains"],
    }


def lines(entries):
    return ["{}\t{}".format(e["key"], e["value"]) for e in entries]


def test_registered():
    assert FilterModule().filters()["mail_domains"] is mail_domains


def test_empty():
    model = mail_domains({})
    assert model["domains"] == [] and model["virtusertable"] == [] and model["users"] == []


def test_chapter_virtusertable_has_the_six_lines(chapter):
    vt = lines(mail_domains(chapter)["virtusertable"])
    for line in (
        "webmaster@another-site.com\twebmasters",
        "@another-site.com\tmarc",
        "sales@my-site.com\tsales@another-site.com",
        "paul@my-site.com\tpaul",
        "finance@my-site.com\tpaul",
        "@my-site.com\terror:nouser User unknown",
    ):
        assert line in vt
    # the overlapping john@ users of the two domains
    assert "john@my-site.com\tjohn1" in vt
    assert "john@another-site.com\tjohn2" in vt
    # each catch-all comes after the domain's own addresses
    assert vt.index("@my-site.com\terror:nouser User unknown") > vt.index("finance@my-site.com\tpaul")


def test_chapter_access_in_the_chapters_order(chapter, server):
    assert lines(mail_domains(chapter, server=server)["access"]) == [
        "localhost.localdomain\tRELAY",
        "localhost\tRELAY",
        "127.0.0.1\tRELAY",
        "192.168.1.16\tRELAY",
        "192.168.1.17\tRELAY",
        "192.168.2\tRELAY",
        "my-site.com\tRELAY",
    ]


def test_chapter_class_files_and_tables(chapter, server):
    model = mail_domains(chapter, server=server)
    assert sorted(model["local_host_names"]) == ["another-site.com", "my-site.com"]
    assert sorted(model["generics_domains"]) == ["another-site.com", "bigboy.my-site.com", "my-site.com"]
    assert model["relay_domains"] == []
    assert model["masquerade_domains"] == ["my-site.com", "localhost", "localhost.localdomain"]
    assert lines(model["genericstable"]) == [
        "alert\tsecurity-alert@my-site.com",
        "peter\turgent-message@my-site.com",
        "apache\tmailer@my-site.com",
    ]


def test_local_domains_that_keep_their_addresses(chapter, server):
    """another-site.com says masquerade: false: the sendmail role renders FEATURE(limited_masquerade) for it."""
    assert mail_domains(chapter, server=server)["unmasqueraded_domains"] == ["another-site.com"]
    other = {"mailserver_domain_x": {"domain": "x.example", "hostnames": ["mail.x.example"]},
             "mailserver_domain_y": {"domain": "y.example", "local": False},
             "mailserver_domain_z": {"domain": "z.example", "masquerade": True}}
    # the default is not masqueraded; a relayed (non-local) domain is not in $=w and needs nothing
    assert mail_domains(other)["unmasqueraded_domains"] == ["x.example", "mail.x.example"]
    # a name that sendmail_masquerade_domains lists is masqueraded after all
    assert mail_domains(other, server={"masquerade_domains": ["mail.x.example"]})["unmasqueraded_domains"] == [
        "x.example"]
    assert mail_domains({})["unmasqueraded_domains"] == []


def test_chapter_aliases(chapter, server):
    aliases = {a["name"]: a["members"] for a in mail_domains(chapter, server=server)["aliases"]}
    assert aliases["root"] == ["marc", "webmaster@my-site.com"]
    assert aliases["mailer-daemon"] == ["postmaster"]
    assert aliases["postmaster"] == ["root"]
    assert aliases["directors"] == ["peter", "paul", "mary"]
    assert aliases["family"] == ["grandma", "brother", "sister"]
    assert aliases["admin-list"] == [":include:/home/mailings/admin-list"]


def test_chapter_users(chapter):
    users = {u["name"]: u for u in mail_domains(chapter)["users"]}
    assert {"marc", "peter", "paul", "mary", "john1", "john2", "webmaster"} <= set(users)
    assert users["john1"]["addresses"] == ["john@my-site.com"]
    assert users["john2"]["domains"] == ["another-site.com"]


def test_union_of_shared_user():
    a = {"domain": "a.example", "users": [{"name": "paul", "addresses": ["paul"]}]}
    b = {"domain": "b.example", "users": [{"name": "paul", "addresses": ["p"], "comment": "Paul"}]}
    model = mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b})
    assert model["users"] == [{
        "name": "paul", "domains": ["a.example", "b.example"],
        "addresses": ["paul@a.example", "p@b.example"], "comment": "Paul", "shell": None, "password": None,
    }]


def test_conflicting_address_names_both_files():
    a = {"domain": "my-site.com", "virtual": {"sales": "marc"}}
    b = {"domain": "another-site.com", "users": [{"name": "peter"}]}
    c = copy.deepcopy(b)
    c["domain"] = "third.example"
    data = {"mailserver_domain_my_site_com": a, "mailserver_domain_x": b, "mailserver_domain_y": c}
    mail_domains(data)  # no conflict yet
    data["mailserver_domain_other"] = {"domain": "other.example", "virtual": {}}
    a2 = {"domain": "my-site.com"}
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains({"mailserver_domain_my_site_com": a, "mailserver_domain_zz": a2})
    assert "mailserver_domain_my_site_com (group_vars/my_site_com.yml)" in str(err.value)
    assert "mailserver_domain_zz (group_vars/zz.yml)" in str(err.value)


def test_same_address_two_targets():
    a = {"domain": "my-site.com", "virtual": {"sales": "marc"}}
    b = {"domain": "another-site.com", "virtual": {}}
    b2 = {"domain": "sub.my-site.com"}
    mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b, "mailserver_domain_c": b2})
    server = {"virtusertable": {"sales@my-site.com": "peter"}}
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains({"mailserver_domain_my_site_com": a}, server=server)
    msg = str(err.value)
    assert "'sales@my-site.com'" in msg and "'peter' by sendmail_virtusertable" in msg
    assert "'marc' by mailserver_domain_my_site_com (group_vars/my_site_com.yml)" in msg


def test_same_address_via_user_and_virtual():
    a = {"domain": "my-site.com", "users": [{"name": "john1", "addresses": ["john"]}]}
    b = {"domain": "my-site.com"}
    with pytest.raises(AnsibleFilterError, match="conflict in domains"):
        mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b})
    c = {"domain": "my-site.com", "users": [{"name": "john1", "addresses": ["john"]}], "virtual": {"john": "john9"}}
    with pytest.raises(AnsibleFilterError, match="'john@my-site.com' is defined as 'john1'.*'john9'"):
        mail_domains({"mailserver_domain_a": c})


def test_same_alias_twice_fails_naming_both():
    a = {"domain": "my-site.com", "aliases": {"directors": ["peter"]}}
    b = {"domain": "another-site.com", "aliases": {"directors": ["peter"]}}
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains({"mailserver_domain_my_site_com": a, "mailserver_domain_another_site_com": b})
    msg = str(err.value)
    assert "conflict in aliases: 'directors'" in msg
    assert "group_vars/my_site_com.yml" in msg and "group_vars/another_site_com.yml" in msg


def test_alias_against_server_aliases():
    a = {"domain": "my-site.com", "aliases": {"root": "marc"}}
    with pytest.raises(AnsibleFilterError, match="by sendmail_aliases and as 'marc' by mailserver_domain_d"):
        mail_domains({"mailserver_domain_d": a}, server={"aliases": {"root": ["peter"]}})


def test_same_access_key_same_action_is_fine_other_action_fails():
    a = {"domain": "a.example", "relay_from": ["192.168.2"]}
    b = {"domain": "b.example", "access": {"192.168.2": "RELAY"}}
    assert lines(mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b})["access"]) == ["192.168.2\tRELAY"]
    b["access"] = {"192.168.2": "REJECT"}
    with pytest.raises(AnsibleFilterError, match="conflict in access: '192.168.2'"):
        mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b})


def test_user_attribute_conflict_hides_passwords():
    a = {"domain": "a.example", "users": [{"name": "paul", "password": "$6$one"}]}
    b = {"domain": "b.example", "users": [{"name": "paul", "password": "$6$two"}]}
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains({"mailserver_domain_a": a, "mailserver_domain_b": b})
    assert "$6$" not in str(err.value) and "(hidden)" in str(err.value)


@pytest.mark.parametrize("data, expected", [
    ({"domain": "a.example", "userz": []}, "mailserver_domain_t (group_vars/t.yml): key: 'userz' is not valid: one of the keys access, aliases,"),
    ({"domain": "a.example", "users": "marc"}, "users: 'marc' is not valid: a list of user dictionaries, not str"),
    ({"domain": "a.example", "local": "yes"}, "local: 'yes' is not valid: a boolean, not str"),
    ({"domain": "a.example", "virtual": ["x"]}, "virtual: ['x'] is not valid: a dictionary of local part to target, not list"),
    ({"users": []}, "domain: None is not valid: required"),
    ({"domain": "not a domain"}, "domain: 'not a domain' is not valid: a mail domain"),
    ({"domain": "a.example", "users": [{"nam": "x"}]}, "users[0].key: 'nam' is not valid: one of the keys addresses, comment, name"),
    ({"domain": "a.example", "users": [{"name": "Bad User"}]}, "users[0].name: 'Bad User' is not valid: a Linux user name"),
    ({"domain": "a.example", "virtual": {"x@y": "z"}}, "virtual: 'x@y' is not valid: a local part"),
    ({"domain": "a.example", "virtual": {"x": ""}}, "virtual['x']: '' is not valid: a non-empty string"),
    ({"domain": "a.example", "aliases": {"x": []}}, "aliases['x']: [] is not valid: a non-empty list of members"),
    ({"domain": "a.example", "access": {"1.2.3.4": "ACCEPT"}}, "access['1.2.3.4']: 'ACCEPT' is not valid: use OK (not ACCEPT)"),
    ({"domain": "a.example", "access": {"1.2.3.4": "PERMIT"}}, "access['1.2.3.4']: 'PERMIT' is not valid: OK, RELAY, REJECT"),
    ({"domain": "a.example", "access": {"1.2.3.4": "550 no"}}, "access['1.2.3.4']: '550 no' is not valid: the bare reply code "
     "form is deprecated (cf/README); write ERROR:550 no"),
    ({"domain": "a.example", "access": {"1.2.3.4": "ERROR:bogus"}}, "access['1.2.3.4']: 'ERROR:bogus' is not valid: write "
     "ERROR:[D.S.N:]NNN text"),
    ({"domain": "a.example", "access": {"Spam:abuse@": "OK"}}, "access['Spam:abuse@']: 'OK' is not valid: Spam: entries take "
     "FRIEND or HATER"),
    ({"domain": "a.example", "hostnames": ["bad host"]}, "hostnames[0]: 'bad host' is not valid: a mail domain"),
    ("my-site.com", "mailserver_domain_t (group_vars/t.yml): 'my-site.com' is not valid: a dictionary describing one mail domain, not str"),
])
def test_validation_messages_name_variable_and_key(data, expected):
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains({"mailserver_domain_t": data})
    assert expected in str(err.value)


def test_access_actions_accepted():
    access = {"a": "OK", "b.example": "RELAY", "c": "REJECT", "d": "DISCARD", "e": "ERROR:5.7.1:550 go away",
              "f": 'ERROR:"550 no"', "g": "SKIP", "h": "QUARANTINE:why"}
    model = mail_domains({"mailserver_domain_a": {"domain": "a.example", "access": access}})
    assert len(model["access"]) == 8
    # tagged keys take what their tag takes (cf/README), as the sendmail_access module checks them
    tagged = {"Spam:abuse@": "FRIEND", "GreetPause:": 5000, "GreetPause:192.168.1": "0", "ClientRate:": "10"}
    model = mail_domains({"mailserver_domain_a": {"domain": "a.example", "access": tagged}})
    assert lines(model["access"]) == ["Spam:abuse@\tFRIEND", "GreetPause:\t5000", "GreetPause:192.168.1\t0", "ClientRate:\t10"]


def test_bad_input_and_server_keys():
    with pytest.raises(AnsibleFilterError, match="input must be a dictionary"):
        mail_domains(["x"])
    with pytest.raises(AnsibleFilterError, match="unknown server key 'acess'"):
        mail_domains({}, server={"acess": {}})
    with pytest.raises(AnsibleFilterError, match=r"sendmail_access: \['x'\] is not valid: a dictionary, not list"):
        mail_domains({}, server={"access": ["x"]})


def test_non_local_domain_and_relay_domain():
    model = mail_domains({"mailserver_domain_b": {"domain": "Backup.Example", "local": False, "relay_domain": True}})
    assert model["local_host_names"] == [] and model["relay_domains"] == ["backup.example"]


def test_genericstable_target_refused_by_the_catchall_fails_naming_it(chapter):
    del chapter["mailserver_domain_my_site_com"]["virtual"]["mailer"]
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains(chapter)
    text = str(err.value)
    assert "mailserver_domain_my_site_com" in text and "genericstable 'apache'" in text
    assert "'mailer@my-site.com'" in text and "error:nouser User unknown" in text
    assert "route 'mailer'" in text


def test_genericstable_target_routed_by_a_users_address_is_fine(chapter):
    domain = chapter["mailserver_domain_my_site_com"]
    del domain["virtual"]["urgent-message"]
    domain["users"][1]["addresses"].append("urgent-message")
    assert "urgent-message@my-site.com\tpeter" in lines(mail_domains(chapter)["virtusertable"])


def test_genericstable_target_in_a_domain_without_a_bouncing_catchall_is_fine(chapter):
    # another-site.com's catch-all delivers to marc: every sender address there is accepted
    chapter["mailserver_domain_my_site_com"]["genericstable"]["alert"] = "alert@another-site.com"
    assert mail_domains(chapter)["genericstable"]


def test_a_bouncing_catchall_must_leave_postmaster_deliverable(chapter):
    del chapter["mailserver_domain_my_site_com"]["virtual"]["postmaster"]
    with pytest.raises(AnsibleFilterError, match=r"postmaster@my-site\.com, which every mail domain must accept"):
        mail_domains(chapter)


def test_the_chapters_domains_accept_postmaster_and_their_sender_addresses(chapter):
    vt = dict(line.split("\t") for line in lines(mail_domains(chapter)["virtusertable"]))
    assert vt["postmaster@my-site.com"] == "postmaster"
    for address in ("mailer@my-site.com", "urgent-message@my-site.com", "security-alert@my-site.com"):
        assert address in vt


# mail_domains_server: the sendmail role's model from the exported one, not from the variables again


def _without_sources(model):
    return {k: v for k, v in model.items() if k != "sources"}


def test_server_merge_equals_the_one_pass_merge(chapter, server):
    """The model built once and merged with the server's entries equals the old one-pass merge."""
    assert FilterModule().filters()["mail_domains_server"] is mail_domains_server
    two_steps = mail_domains_server(mail_domains(chapter), server)
    one_pass = mail_domains(chapter, server=server)
    assert _without_sources(two_steps) == _without_sources(one_pass)
    assert lines(two_steps["access"])[0].startswith(next(iter(server["access"])))  # the server's entries first


def test_server_merge_leaves_the_exported_model_alone(chapter, server):
    model = mail_domains(chapter)
    before = copy.deepcopy(model)
    mail_domains_server(model, server)
    assert model == before


def test_server_conflict_names_the_domain_variable(chapter):
    model = mail_domains(chapter)
    taken = next(e for e in model["virtusertable"] if not e["key"].startswith("@"))
    with pytest.raises(AnsibleFilterError) as err:
        mail_domains_server(model, {"virtusertable": {taken["key"]: "somebody-else"}})
    text = str(err.value)
    assert "sendmail_virtusertable" in text and model["sources"]["virtusertable"][taken["key"]] in text


def test_server_merge_wants_the_model():
    with pytest.raises(AnsibleFilterError, match="mail_domains_model"):
        mail_domains_server({"domains": []}, {})


def test_local_domains_skip_relay_only_domains(chapter):
    chapter = copy.deepcopy(chapter)
    chapter["mailserver_domain_zz_relayed"] = {"domain": "Relayed.Example", "local": False, "relay_domain": True}
    model = mail_domains(chapter)
    assert "relayed.example" in model["domains"]
    assert "relayed.example" not in model["local_domains"]
    assert set(model["local_domains"]) == {"my-site.com", "another-site.com"}
