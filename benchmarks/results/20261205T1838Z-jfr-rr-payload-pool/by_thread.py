import json, sys, collections, subprocess
f=sys.argv[1]; keys=sys.argv[2].split(',')
d=json.loads(subprocess.run(['jfr','print','--json','--events','jdk.ExecutionSample','--stack-depth','64',f],capture_output=True,text=True).stdout)
c=collections.Counter(); tot=collections.Counter()
for e in d['recording']['events']:
    st=e['values']['stackTrace']; thr=e['values']['sampledThread']['javaName'] or ''
    if 'bench-' not in thr or not st: continue
    g=thr.split('-')[1]; tot[g]+=1
    names=[x['method']['type']['name'].split('/')[-1]+'.'+x['method']['name'] for x in st['frames']]
    for k in keys:
        if any(k in n for n in names): c[(g,k)]+=1
for g in tot:
    print(g, tot[g])
    for k in keys: print(f"   {100*c[(g,k)]/tot[g]:5.1f}% {k}")
