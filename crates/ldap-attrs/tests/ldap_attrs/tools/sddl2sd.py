#!/usr/bin/python3
# Prints, for each SDDL string given, Samba's self-relative NT security
# descriptor for it (ndr_pack of samba.dcerpc.security.descriptor), in hex,
# one line each. Needs Debian's python3-samba; run with /usr/bin/python3.
import sys
from samba.dcerpc import security
from samba.ndr import ndr_pack

domain = security.dom_sid("S-1-5-21-1004336348-1177238915-682003330")
for sddl in sys.argv[1:]:
    sd = security.descriptor.from_sddl(sddl, domain)
    print(ndr_pack(sd).hex())
