"""Write the index of the repository here with one more entry named ARGV[1] (an empty file),
whatever git would say of that name: what a hostile agent can do by hand."""
import hashlib, os, struct, subprocess, sys
name = sys.argv[1].encode()
blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=b"", capture_output=True).stdout.strip()
entries = []
out = subprocess.run(["git", "ls-files", "-s"], capture_output=True, text=True).stdout
rows = [(l.split()[1], l.split("\t")[1]) for l in out.splitlines()] + [(blob.decode(), name.decode())]
data = b"DIRC" + struct.pack(">II", 2, len(rows))
for sha, path in sorted(rows, key=lambda r: r[1].encode()):
    p = path.encode()
    e = struct.pack(">IIIIIIIIII", 0, 0, 0, 0, 0, 0, 0o100644, 0, 0, 0) + bytes.fromhex(sha) + struct.pack(">H", min(len(p), 0xfff)) + p
    e += b"\0" * (8 - (len(e) % 8))
    data += e
data += hashlib.sha1(data).digest()
gitdir = subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True, text=True).stdout.strip()
open(os.path.join(gitdir, "index"), "wb").write(data)
