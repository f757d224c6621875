"""A throw-away certificate authority for the Authelia test double, made with
the openssl command (used by the tests and by `make demo`)."""
import subprocess


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_cert(d, name, san, ca=None):
    """A key and certificate for san, signed by ca (a name in d) or self-signed."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj",
             f"/CN={name}", "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
    if ca is None:
        openssl("x509", "-req", "-in", f"{name}.csr", "-signkey", f"{name}.key", "-days", "2",
                 "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    else:
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out",
                 f"{name}.pem", cwd=d)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-subj",
             f"/CN={name}", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{name}.pem", cwd=d)


def readable(d):
    for f in d.iterdir():
        f.chmod(0o644)
