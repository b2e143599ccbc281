import json, sys, collections, subprocess
f=sys.argv[1]; target=sys.argv[2]
d=json.loads(subprocess.run(['jfr','print','--json','--events','jdk.ExecutionSample','--stack-depth','64',f],capture_output=True,text=True).stdout)
c=collections.Counter()
for e in d['recording']['events']:
    st=e['values']['stackTrace']
    if not st: continue
    fr=st['frames']
    names=[x['method']['type']['name'].split('/')[-1]+'.'+x['method']['name'] for x in fr]
    if any(target in n for n in names[:3]):
        c[' <- '.join(names[:9])]+=1
for k,v in c.most_common(8): print(v,k,'\n')
