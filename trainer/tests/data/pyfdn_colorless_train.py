import sys, time, warnings
import torch
torch.set_num_threads(2)
import pyFDN
from pyFDN.train import model_response, LOSSLESS_ALIAS_DECAY_DB

dt = {"f32": torch.float32, "f64": torch.float64}[sys.argv[1]]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 200
warnings.simplefilter("always")

preset = pyFDN.get_fdn_preset("colorless_init_N8_d1")
model = pyFDN.trainable_from_preset(preset, nfft=2**14,
        alias_decay_db=LOSSLESS_ALIAS_DECAY_DB, dtype=dt)
print("alias_decay_db", LOSSLESS_ALIAS_DECAY_DB, "dtype", dt, "torch threads", torch.get_num_threads())
print([repr(p) for p in pyFDN.params(model)])
loss = pyFDN.FlatMagnitude() + 0.2 * pyFDN.Sparsity(pyFDN.param(model, "feedback"))

t0 = time.perf_counter()
log = pyFDN.train_fdn(model, loss, optimizer="adam", lr=1e-3, max_steps=steps,
                      patience=1000, rng=0, dtype=dt)
t1 = time.perf_counter()
tl = log.train_loss
print("steps_run", log.steps_run, "stopped_early", log.stopped_early)
print("train_loss[0]  = %.7g" % tl[0])
print("train_loss[-1] = %.7g" % tl[-1])
print("min(train_loss)= %.7g at step %d" % (min(tl), tl.index(min(tl))))
print("train_loss[195:200] =", ["%.7g" % x for x in tl[195:200]])
print("repr first/last:", repr(tl[0]), repr(tl[-1]))
for k, v in log.loss_log.items():
    print("term", k, "first %.7g last %.7g" % (v[0], v[-1]))
print("wall %.3f s, %.2f ms/step" % (t1 - t0, 1000 * (t1 - t0) / log.steps_run))
with torch.no_grad():
    r = model_response(model)
    fin = loss(r)
    print("final-model loss (no-grad) = %.7g" % float(fin))
    for w, term in loss.terms():
        print("  final term", term.name, "unweighted %.7g" % float(term(r)), "weight", w)
