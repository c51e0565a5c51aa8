"""A model of one sealed segment: what cutting it into time slices would cost
(compressed size, session reads) and buy (10-minute window reads).

  /usr/bin/python3 bench/model_time_slices.py FLEET.ndjson LOGDIR SEGMENT_INDEX[,..]

FLEET.ndjson is the data set the log LOGDIR was appended from (the segment
bases are taken from LOGDIR's file names). Needs python3-zstandard. Blocks
are approximated as events joined by newlines plus 24 bytes of header;
the dictionary is trained from the first segment with the sealer's
parameters. Figures in bench/RESULTS.md (issue 4, "The window's floor").
"""
import json, os, sys, zstandard, random
nd = sys.argv[1]
names = os.listdir(sys.argv[2])
bases = sorted(int(n.split('.')[0]) for n in names if n.endswith('.sealed') or n.endswith('.seg'))
want = [int(x) for x in sys.argv[3].split(',')]  # segment indexes
ev = []
with open(nd, 'rb') as f:
    for i, line in enumerate(f, 1):
        if max(want) + 1 < len(bases) and i >= bases[max(want)+1]: break
        ev.append(line.rstrip(b'\n'))
def keys(line):
    o = json.loads(line); d = o.get('data') if isinstance(o.get('data'), dict) else {}
    err = o.get('event_type') == 'error' or bool(d.get('error')) or bool(d.get('is_error'))
    return o.get('session_id'), o.get('event_type'), d.get('tool_name') or '', err, o.get('timestamp')
# dictionary from segment 0, like the sealer (every step-th event to 16 MiB)
seg0 = ev[0:bases[1]-1]
tot = sum(len(e) for e in seg0); step = max(1, tot // (16 << 20))
dic = zstandard.train_dictionary(512 << 10, seg0[::step], k=1024, d=8, f=20, accel=1, split_point=1.0, level=3)
cctx = zstandard.ZstdCompressor(level=3, dict_data=dic)
def layout(items, slice_s):
    first = {}
    for it in items: first.setdefault(it['s'], len(first))
    t0 = min(it['ts'] for it in items)
    sl = (lambda it: int((it['ts'] - t0) // slice_s)) if slice_s else (lambda it: 0)
    main = sorted([x for x in items if x['r'] == 0], key=lambda x: (sl(x), first[x['s']], x['t']))
    tc = sorted([x for x in items if x['r'] == 1], key=lambda x: (sl(x), x['tool'], first[x['s']]))
    er = sorted([x for x in items if x['r'] == 2], key=lambda x: (x['tool'], first[x['s']]))
    blocks = []
    for reg, lim in ((main, 128 << 10), (tc, 32 << 10), (er, 32 << 10)):
        cur = []; by = 0
        for x in reg:
            cur.append(x); by += len(x['e']) + 4
            if by >= lim: blocks.append(cur); cur = []; by = 0
        if cur: blocks.append(cur)
    return blocks
for si in want:
    items = []
    for seq in range(bases[si], bases[si+1]):
        e = ev[seq-1]; s, t, tool, err, ts = keys(e)
        items.append({'e': e, 's': s, 't': t, 'tool': tool, 'ts': ts, 'seq': seq, 'r': 2 if err else 1 if t == 'tool_call' else 0})
    lo = min(x['ts'] for x in items); hi = max(x['ts'] for x in items)
    random.seed(1)
    wins = [lo + random.random() * (hi - lo - 600) for _ in range(20)]
    sess = random.sample(sorted(set(x['s'] for x in items)), 200)
    for S in (0, 900, 600, 300):
        blocks = layout(items, S)
        comp = 0; info = []
        for b in blocks:
            raw = b'\n'.join(x['e'] for x in b)
            c = len(cctx.compress(raw)) + 24
            comp += c
            tss = [x['ts'] for x in b]
            info.append((min(tss), max(tss), len(raw), set(x['s'] for x in b)))
        wb = [sum(r for (a, z, r, _) in info if z >= w and a < w + 600) for w in wins]
        wn = [sum(1 for (a, z, r, _) in info if z >= w and a < w + 600) for w in wins]
        sb = [sum(r for (a, z, r, ss) in info if s in ss) for s in sess]
        sn = [sum(1 for (a, z, r, ss) in info if s in ss) for s in sess]
        print(f"seg {si} slice {S:4d}s: compressed {comp/1e6:.3f} MB, blocks {len(blocks)}; window: {sum(wn)/len(wn):.0f} blocks {sum(wb)/len(wb)/1e6:.2f} MB raw; session: {sum(sn)/len(sn):.1f} blocks {sum(sb)/len(sb)/1e3:.0f} KB raw", flush=True)
