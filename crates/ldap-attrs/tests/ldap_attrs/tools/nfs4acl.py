#!/usr/bin/env python3
# Prints the XDR of an NFSv4 ACL (fattr4_acl, RFC 7530: the value of the
# system.nfs4_acl xattr) packed by Python's own xdrlib, in hex. Each
# argument is one ACE, "TYPE:FLAGS:MASK:WHO" with numbers in hex, e.g.
# "1:0:1:mallory@example.com".
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import xdrlib

p = xdrlib.Packer()
aces = sys.argv[1:]
p.pack_uint(len(aces))
for ace in aces:
    t, flags, mask, who = ace.split(":", 3)
    p.pack_uint(int(t, 16))
    p.pack_uint(int(flags, 16))
    p.pack_uint(int(mask, 16))
    p.pack_string(who.encode("utf-8"))
print(p.get_buffer().hex())
