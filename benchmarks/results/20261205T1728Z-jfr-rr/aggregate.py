import json, sys, collections, subprocess
f=sys.argv[1]
out=subprocess.run(['jfr','print','--json','--events','jdk.ExecutionSample','--stack-depth','64',f],capture_output=True,text=True).stdout
d=json.loads(out)
ev=d['recording']['events']
by_thread=collections.Counter(); self_=collections.Counter(); incl=collections.Counter()
n=0
for e in ev:
    t=e['values']['sampledThread']['javaName'] or ''
    grp=t.rstrip('0123456789').rstrip('-')
    if not grp.startswith('bench-'): continue
    st=e['values']['stackTrace']
    if not st: continue
    frames=st['frames']
    n+=1
    by_thread[grp]+=1
    top=frames[0]['method']
    self_[(grp, top['type']['name'].split('.')[-1]+'.'+top['name'])]+=1
    seen=set()
    for fr in frames:
        m=fr['method']; k=(grp, m['type']['name'].split('.')[-1]+'.'+m['name'])
        if k not in seen:
            seen.add(k); incl[k]+=1
print('samples on bench loops', n, dict(by_thread))
print('--- self top 25')
for k,v in self_.most_common(25): print(f"{v/n*100:5.1f}% {k[0]} {k[1]}")
keys=['copyMemory','getBytes','writeBytes','PeerFrameDecoder.decode','ByteToMessageDecoder.channelRead','cumulate','WriteBatch.add','writeBody','FileDispatcherImpl','writev','read','epollWait','Native.epollWait','IovArray','doWriteMultiple','doReadBytes','heapBuffer','newHeapBuffer','AdaptivePoolingAllocator','PoolArena.allocate','release','Deadlines','HashedWheel','RpcClient','RpcServer','PeerChannel.writeQueued','PeerChannel.channelRead','InboundDispatcher']
print('--- inclusive by name fragment (sum over groups)')
tot=collections.Counter()
for (g,m),v in incl.items():
    for k in keys:
        if k in m: tot[k]+=v
for k in keys: print(f"{tot[k]/n*100:5.1f}% {k}")
