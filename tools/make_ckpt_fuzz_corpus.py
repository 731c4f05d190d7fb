#!/usr/bin/env python3
# Usage: python3 tools/make_ckpt_fuzz_corpus.py fuzz/corpus   (writes fuzz/corpus/{unpickler,ckpt}/)
# Generates fuzz/corpus/{unpickler,ckpt}/ seeds: torch.save-shaped pickles made with Python's own pickle
# module over stand-in 'torch' modules (no torch needed), zips via zipfile (ZIP_STORED), and damaged variants.
import collections, io, os, pickle, struct, sys, types, zipfile

root = sys.argv[1]
def mod(name):
    m = types.ModuleType(name); sys.modules[name] = m; return m
torch = mod('torch'); tutils = mod('torch._utils')
def _rebuild_tensor_v2(*a): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; tutils._rebuild_tensor_v2 = _rebuild_tensor_v2
def _rebuild_parameter(*a): pass
_rebuild_parameter.__module__ = 'torch._utils'; tutils._rebuild_parameter = _rebuild_parameter
class FloatStorage: pass
class HalfStorage: pass
class LongStorage: pass
for c in (FloatStorage, HalfStorage, LongStorage):
    c.__module__ = 'torch'; setattr(torch, c.__name__, c)
np = mod('numpy'); npc = mod('numpy.core'); npm = mod('numpy.core.multiarray')
def scalar(*a): pass
scalar.__module__ = 'numpy.core.multiarray'; npm.scalar = scalar
class dtype:
    def __init__(self, *a): pass
    def __reduce__(self): return (dtype, ('i8', False, True), (3, '<', None, None, None, -1, -1, 0))
    def __setstate__(self, s): pass
dtype.__module__ = 'numpy'; np.dtype = dtype

class Storage:
    def __init__(self, typ, key, data, elsize): self.typ, self.key, self.data, self.numel = typ, key, data, len(data) // elsize
class Tensor:
    def __init__(self, storage, offset, size, stride): self.a = (storage, offset, size, stride)
    def __reduce__(self):
        s, o, sz, st = self.a
        return (_rebuild_tensor_v2, (s, o, sz, st, False, collections.OrderedDict()))
class Param:
    def __init__(self, t): self.t = t
    def __reduce__(self): return (_rebuild_parameter, (self.t, True, collections.OrderedDict()))
class NpScalar:
    def __reduce__(self): return (scalar, (dtype(), struct.pack('<q', 470000)))

def dumps(obj, proto=2):
    f = io.BytesIO()
    p = pickle.Pickler(f, protocol=proto)
    p.persistent_id = lambda o: ('storage', o.typ, o.key, 'cpu', o.numel) if isinstance(o, Storage) else None
    p.dump(obj)
    return f.getvalue()

s0 = Storage(FloatStorage, '0', struct.pack('<6f', 1, 2, 3, 4, 5, 6), 4)
s1 = Storage(HalfStorage, '1', b'\x00\x3c\x00\x40', 2)
s2 = Storage(LongStorage, '2', struct.pack('<3q', 0, 1, 2), 8)
sd = collections.OrderedDict()
sd['model.w'] = Tensor(s0, 0, (2, 3), (3, 1))
sd['model.wt'] = Tensor(s0, 0, (3, 2), (1, 3))
sd['model.b'] = Param(Tensor(s0, 4, (2,), (1,)))
sd['model.h'] = Tensor(s1, 0, (2,), (1,))
sd['position_ids'] = Tensor(s2, 0, (1, 3), (3, 1))
sd['scalar'] = Tensor(s0, 5, (), ())
sd._metadata = {'': {'version': 1}}
lightning = {'state_dict': sd, 'global_step': NpScalar(), 'epoch': 3, 'callbacks': {'x': 1.5}}
storages = [s0, s1, s2]

def torch_zip(obj, prefix='archive', proto=2):
    f = io.BytesIO()
    with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(prefix + '/data.pkl', dumps(obj, proto))
        for s in storages: z.writestr(prefix + '/data/' + s.key, s.data)
        z.writestr(prefix + '/version', '3\n')
    return f.getvalue()

def legacy(obj):
    out = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2)
    out += pickle.dumps({'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2)
    out += dumps(obj)
    keys = sorted(s.key for s in storages)
    out += pickle.dumps(keys, protocol=2)
    for k in keys:
        s = [s for s in storages if s.key == k][0]
        out += struct.pack('<q', s.numel) + s.data
    return out

class Evil:
    def __reduce__(self): return (os.system, ('echo pwned',))

def write(folder, name, data):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    open(os.path.join(root, folder, name), 'wb').write(data)

# ckpt corpus
good = torch_zip(lightning)
write('ckpt', 'lightning_zip.ckpt', good)
write('ckpt', 'plain_state_dict_model_prefix.ckpt', torch_zip(sd, 'model'))
write('ckpt', 'protocol4.ckpt', torch_zip(sd, 'archive', 4))
write('ckpt', 'legacy.pt', legacy(lightning))
write('ckpt', 'truncated_half.ckpt', good[:len(good) // 2])
write('ckpt', 'truncated_tail.ckpt', good[:-7])
write('ckpt', 'legacy_truncated.pt', legacy(sd)[:-5])
f = io.BytesIO()
with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', dumps({'x': Evil()}))
write('ckpt', 'foreign_global.ckpt', f.getvalue())
f = io.BytesIO()
with zipfile.ZipFile(f, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('archive/data.pkl', dumps(sd))
    for s in storages: z.writestr('archive/data/' + s.key, s.data)
write('ckpt', 'deflated.ckpt', f.getvalue())
f = io.BytesIO()
with zipfile.ZipFile(f, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', dumps({'w': Tensor(s0, 2, (2, 3), (3, 1))}))  # reaches past storage 0
    z.writestr('archive/data/0', s0.data)
write('ckpt', 'storage_too_small.ckpt', f.getvalue())
bad = bytearray(good); eocd = bad.rfind(b'PK\x05\x06'); bad[eocd + 8:eocd + 12] = b'\xfe\xff\xfe\xff'
write('ckpt', 'huge_count.ckpt', bytes(bad))

# unpickler corpus
write('unpickler', 'lightning_p2.pkl', dumps(lightning))
write('unpickler', 'state_dict_p4.pkl', dumps(sd, 4))
write('unpickler', 'plain_values.pkl', pickle.dumps({'a': 1, 'b': [1.5, None, True], 'c': (1, 2, 3), 'd': 'é', 'big': 2**40, 'neg': -5}, protocol=2))
write('unpickler', 'bytes_codecs.pkl', pickle.dumps(b'\x00\xff\x80A', protocol=2))
write('unpickler', 'set.pkl', pickle.dumps({3, 4}, protocol=2))
write('unpickler', 'evil_p2.pkl', pickle.dumps(Evil(), protocol=2))
write('unpickler', 'evil_p4.pkl', pickle.dumps(Evil(), protocol=4))
write('unpickler', 'os_system_global.pkl', b'\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R.')
write('unpickler', 'deep_marks.pkl', b'(' * 2000)
write('unpickler', 'cyclic_list.pkl', b']q\x00h\x00a.')
write('unpickler', 'truncated.pkl', dumps(sd)[:100])
write('unpickler', 'huge_string.pkl', b'X\xff\xff\xff\xff')
