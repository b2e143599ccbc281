import sys,collections
d=collections.defaultdict(dict)
for l in open(sys.argv[1]):
    if l.startswith('#') or not l.strip(): continue
    p=l.strip().split(',')
    try: d[float(p[0])][p[3].split(':')[-1]]=int(p[1])
    except: pass
for t in sorted(d):
    r=d[t]; print(f"{t:6.0f}s send {r.get('sys_enter_sendto',0):7d} writev {r.get('sys_enter_writev',0):6d} recv {r.get('sys_enter_recvfrom',0):7d} read {r.get('sys_enter_read',0):6d} write {r.get('sys_enter_write',0):6d} cs {r.get('context-switches',0):6d}")
