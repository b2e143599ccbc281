import re,sys
cur=None; rows=[]; fork=0
for l in open(sys.argv[1]):
    if l.startswith('# Run progress'): fork+=1
    m=re.match(r'(# Warmup )?Iteration\s+(\d+): ([\d.]+) ops/s',l)
    if m:
        cur={'fork':fork,'it':('w' if m.group(1) else '')+m.group(2),'rate':float(m.group(3))}; rows.append(cur); continue
    m=re.match(r'\s+([\w.]+):\s+([\d.]+)',l)
    if m and cur is not None: cur[m.group(1)]=float(m.group(2))
print('fork it     rate  busy  cpu/op  caller(sys)  handler(sys)  sleeps c/h')
for r in rows:
    if 'cpu.busy' not in r: continue
    print(f"{r['fork']:4} {r['it']:>3} {r['rate']/1000:6.0f}k {r['cpu.busy']:5.2f} {r['cpu.time.norm']:6.0f}  {r.get('loop.caller.cpu.norm',0):5.0f}({r.get('loop.caller.sys.norm',0):4.0f})  {r.get('loop.handler.cpu.norm',0):5.0f}({r.get('loop.handler.sys.norm',0):4.0f})  {r.get('loop.caller.sleeps.norm',0):5.1f} {r.get('loop.handler.sleeps.norm',0):5.1f}")
