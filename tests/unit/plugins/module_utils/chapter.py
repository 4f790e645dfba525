"""The chapter's examples as module entries (the fixture files hold the chapter's text verbatim)."""

ACCESS = [{"key": k, "value": "RELAY"} for k in (
    "localhost.localdomain", "localhost", "127.0.0.1", "192.168.1.16", "192.168.1.17", "192.168.2", "my-site.com")]
VIRTUSERTABLE = [
    {"key": "webmaster@another-site.com", "value": "webmasters"},
    {"key": "@another-site.com", "value": "marc"},
    {"key": "sales@my-site.com", "value": "sales@another-site.com"},
    {"key": "paul@my-site.com", "value": "paul"},
    {"key": "finance@my-site.com", "value": "paul"},
    {"key": "@my-site.com", "value": "error:nouser User unknown"},
]
GENERICSTABLE = [
    {"key": "alert", "value": "security-alert@my-site.com"},
    {"key": "peter", "value": "urgent-message@my-site.com"},
    {"key": "apache", "value": "mailer@my-site.com"},
]
LOCAL_HOST_NAMES = ["my-site.com", "another-site.com"]
GENERICS_DOMAINS = ["my-site.com", "another-site.com", "bigboy.my-site.com"]
RELAY_DOMAINS = ["my-super-duper-site.com"]
ALIASES = [
    {"name": "mailer-daemon", "members": ["postmaster"]},
    {"name": "postmaster", "members": ["root"]},
    {"name": "bin", "members": ["root"]},
    {"name": "daemon", "members": ["root"]},
    {"name": "abuse", "members": ["root"]},
    {"name": "decode", "members": ["root"]},
    {"name": "root", "members": ["marc", "webmaster@my-site.com"]},
]
ALIASES_LISTS = [
    {"name": "directors", "members": ["peter", "paul", "mary"]},
    {"name": "family", "members": ["grandma", "brother", "sister"]},
    {"name": "admin-list", "members": [":include:/home/mailings/admin-list"]},
]

# fixture file, kind, entries
CASES = [
    ("chapter_access.txt", "access", ACCESS),
    ("chapter_virtusertable.txt", "virtusertable", VIRTUSERTABLE),
    ("chapter_genericstable.txt", "genericstable", GENERICSTABLE),
    ("chapter_local-host-names.txt", "class_hosts", LOCAL_HOST_NAMES),
    ("chapter_generics-domains.txt", "class_hosts", GENERICS_DOMAINS),
    ("chapter_relay-domains.txt", "class_hosts", RELAY_DOMAINS),
    ("chapter_aliases.txt", "aliases", ALIASES),
    ("chapter_aliases_lists.txt", "aliases", ALIASES_LISTS),
]
