"""Build-time check for docker/Dockerfile.cuda: the installed torch must be a CUDA 12 build
with kernels for every GPU generation in the fleet (default V100 sm_70, A100 sm_80, H100 sm_90).

Reads the compiled-in architecture list, so it needs no GPU and no driver. Usage:
    python check_torch_cuda.py sm_70 sm_80 sm_90     (no arguments: print only)
"""

import sys

import torch

required = sys.argv[1:]
get_flags = getattr(torch._C, "_cuda_getArchFlags", None)  # absent from CPU builds
flags = (get_flags() or "").split() if get_flags else []
print(f"torch {torch.__version__} | CUDA {torch.version.cuda} | kernels: {' '.join(flags) or 'none'}")
if required:
    if not (torch.version.cuda or "").startswith("12."):
        sys.exit(f"torch {torch.__version__} is not a CUDA 12 build (CUDA {torch.version.cuda}); "
                 f"CUDA 13 builds have no sm_70 (V100) kernels")
    missing = [arch for arch in required if arch not in flags]
    if missing:
        sys.exit(f"torch {torch.__version__} lacks kernels for {' '.join(missing)} (has {' '.join(flags)})")
    print("ok:", " ".join(required))
