"""The lab's two servers publish one consistent set of DNS records, and the doctor finds them published.

tests/playbooks/lab_dns_published.yml prints the records of bigboy (MX 10) and backupmx (MX 20) with
playbooks/dns_records.yml, serves their TXT records on the lab name server, runs the doctor with its
dns_published check on, and takes the TXT records away again.
  - the zone snippet has both MX records, one SPF record per domain covering both servers and one DMARC
    record per domain, and passes named-checkzone;
  - the doctor's dns_published is OK on bigboy: every record asked of the lab name server answers as printed.
"""

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT  # noqa: E402

PUBLISHED = "/etc/dnsmasq.d/published.conf"


def test_two_servers_one_record_set_published_and_found(tmp_path, bigboy):
    try:
        run = subprocess.run(["ansible-playbook", "-i", "inventories/lab", "tests/playbooks/lab_dns_published.yml",
                              "-e", f"lab_dns_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        # a run that stopped before its last play leaves the TXT records served: take them away here
        if bigboy.file(PUBLISHED).exists:
            bigboy.run(f"rm -f {PUBLISHED} && systemctl restart dnsmasq")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    zone = (tmp_path / "mail.zone").read_text()
    for domain in ("my-site.com", "another-site.com"):
        mx = re.findall(rf"^{re.escape(domain)}\.\s+\d+\s+IN\s+MX\s+(\d+)\s+(\S+)", zone, re.M)
        assert sorted(mx) == [("10", "bigboy.my-site.com."), ("20", "backupmx.my-site.com.")], zone
        spf = re.findall(rf'^{re.escape(domain)}\.\s+\d+\s+IN\s+TXT\s+"v=spf1[^"]*"', zone, re.M)
        assert len(spf) == 1 and "ip4:127.0.0.2" in spf[0] and "ip4:127.0.0.11" in spf[0], zone
        dmarc = re.findall(rf"^_dmarc\.{re.escape(domain)}\.\s+\d+\s+IN\s+TXT", zone, re.M)
        assert len(dmarc) == 1, zone
        # the domain's lines as a zone of their own, with the SOA and NS named-checkzone needs
        origin = domain + "."
        body = "\n".join(line for line in zone.splitlines() if line.split("\t", 1)[0].endswith(origin))
        path = tmp_path / f"{domain}.zone"
        path.write_text(f"$TTL 3600\n{origin} IN SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 300\n"
                        f"{origin} IN NS ns.{origin}\nns.{origin} IN A 127.0.0.53\n{body}\n")
        check = subprocess.run(["named-checkzone", origin, str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
    doctor = [line for line in output.splitlines() if "dns_published" in line]
    assert doctor and all(re.search(r"dns_published\s+ok\b", line) for line in doctor), "\n".join(doctor) or output[-4000:]
