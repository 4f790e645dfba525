"""Log in to the provider's relay the way sendmail will, before the login goes live.

argv: host port tls(starttls|implicit) user ca_file; the password on stdin (never in argv).
Exit 0: the relay took the login over TLS. 2: the relay refused it (535 and the like).
3: no answer, or no TLS (the run only warns: sendmail keeps mail queued meanwhile).
Prints one line saying which; never the password.
"""

import smtplib
import ssl
import sys


def main():
    host, port, tls, user, ca_file = sys.argv[1:6]
    password = sys.stdin.readline().rstrip("\n")
    try:
        if tls == "implicit":
            context = ssl.create_default_context(cafile=ca_file)
            smtp = smtplib.SMTP_SSL(host, int(port), timeout=30, context=context)
        else:
            # sendmail checks encryption (TLS_Srv ENCR:128), not the certificate: the probe does the same
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            smtp = smtplib.SMTP(host, int(port), timeout=30)
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                print(f"{host}:{port} offers no STARTTLS: the login would not be sent")
                return 3
            smtp.starttls(context=context)
        with smtp:
            smtp.ehlo()
            smtp.login(user, password)
    except smtplib.SMTPAuthenticationError as exc:
        print(f"{host}:{port} refused the login of {user}: {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}")
        return 2
    except OSError as exc:  # smtplib's errors, timeouts and TLS failures are all OSErrors
        print(f"{host}:{port} could not be asked: {exc}")
        return 3
    print(f"{host}:{port} took the login of {user} over TLS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
