"""Serial acquisition benchmark (one run, results side by side).

1. Binary frame decoder throughput (MB/s): bshm's BinaryDecoder (Numba scan +
   CRC kernel, NumPy payload gathers) vs a straightforward pure-Python decoder
   of the same protocol (tests/reference/framing.py, CRC from binascii), fed
   in 64 KiB reads, for small and large frames, clean and with 1 % byte errors.
   Also the line decoder.
2. CPU share of ``bshm acquire`` (a real subprocess) recording 16 channels at
   1 kHz (int24, 50 samples per frame) from a virtual device on a pty:
   user+system time of the child from /proc/<pid>/stat over a steady window.
3. ``--disk-full`` (needs root: mounts a tmpfs): the writer of ``acquire``
   ("buffer" mode, 16 ch x 1 kHz in 0.25-s blocks) on a full disk: CPU per
   block while the samples wait in memory, and the time to write a full
   64 MiB memory buffer when space returns (tmpfs: memory speed, a real disk
   is slower).

Run: ``.venv/bin/python benchmarks/bench_serial.py [--cpu-seconds 30] [--disk-full]``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from bshm.acquisition.framing_binary import BinaryDecoder, encode_frame, warm_up
from bshm.acquisition.framing_line import LineDecoder, encode_line

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "_ref_framing", ROOT / "tests" / "reference" / "framing.py")
assert _spec is not None
assert _spec.loader is not None
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)

CHUNK = 65536


def make_stream(nch: int, spf: int, nbytes: int, byte_error: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray()
    k = 0
    while len(out) < nbytes:
        out += encode_frame(k, k * 10**7, rng.integers(-2**23, 2**23, (spf, nch)), "int24")
        k += 1
    if byte_error:
        arr = np.frombuffer(bytes(out), dtype=np.uint8).copy()
        hit = rng.random(arr.size) < byte_error
        arr[hit] ^= (1 << rng.integers(0, 8, hit.sum())).astype(np.uint8)
        out = bytearray(arr.tobytes())
    return bytes(out)


def throughput(factory, data: bytes, repeats: int) -> tuple[float, float, int]:
    """MB/s by process CPU time (robust on a shared machine) and by wall time."""
    cpu, wall = [], []
    n = 0
    for _ in range(repeats):
        dec = factory()
        c, t = time.process_time(), time.perf_counter()
        n = 0
        for i in range(0, len(data), CHUNK):
            n += len(dec.feed(data[i : i + CHUNK]))
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    mb = len(data) / 1e6
    return mb / statistics.median(cpu), mb / statistics.median(wall), n


def bench_decoders() -> None:
    warm_up()
    print("binary decoder, 64 KiB reads, MB/s by CPU time (wall time in brackets);")
    print("bshm: median of 5 runs over 8 MB; pure Python: 1 run over 1 MB")
    print(f"{'frames':<30}{'bshm':>18}{'pure Python':>18}{'ratio':>8}")
    for nch, spf, err in [(8, 5, 0.0), (16, 50, 0.0), (8, 5, 0.01), (16, 50, 0.01)]:
        data = make_stream(nch, spf, 8_000_000, err)
        fast, fast_w, _ = throughput(BinaryDecoder, data, 5)
        slow, slow_w, _ = throughput(ref.ReferenceDecoder, data[:1_000_000], 1)
        label = f"{nch} ch x {spf} smp ({25 + 3 * nch * spf} B){' 1% err' if err else ''}"
        print(f"{label:<30}{fast:>9.1f} ({fast_w:5.1f}){slow:>10.2f} ({slow_w:5.2f})"
              f"{fast / slow:>7.0f}x")
    rng = np.random.default_rng(1)
    lines = b"".join(
        encode_line(v, time_ns=1_700_000_000_000_000_000 + i * 10**6, time_column=0,
                    checksum=True)
        for i, v in enumerate(rng.standard_normal((20000, 8)))
    )
    mbs, _, n = throughput(lambda: LineDecoder(list(range(1, 9)), time_column=0,
                                               checksum=True), lines, 3)
    print(f"line decoder, 8 columns + time + checksum: {mbs:.1f} MB/s by CPU time "
          f"({n / (len(lines) / mbs / 1e6):.0f} lines/s)")


CONFIG = """
[station]
name = "bench"
description = "16 ch at 1 kHz"
data_dir = "data"

[[sources]]
name = "fast"
kind = "serial"
port = "dev/fast"
fs = 1000.0
sample_format = "int24"
{channels}
"""


def proc_cpu_s(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_cpu(seconds: float, spf: int = 50) -> None:
    from bshm.fixtures.stream import BridgeStream
    from bshm.fixtures.virtual_serial import VirtualSerialDevice

    from bshm.config import load_station

    chans = "\n".join(
        f'[[sources.channels]]\nname = "ch{i:02d}"\nquantity = "acceleration"\n'
        f'unit = "m/s2"\nscale = 2.4e-6' for i in range(1, 17)
    )
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "station.toml"
        cfg.write_text(CONFIG.format(channels=chans))
        st = load_station(cfg)
        dev = VirtualSerialDevice.from_source(st.source("fast"), BridgeStream(seed=0),
                                              samples_per_frame=spf)
        with dev:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bshm", "acquire", str(cfg), "--status-interval", "60"],
                cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                assert dev.wait_listener(60), "acquire did not open the port"
                time.sleep(5.0)  # start-up (imports, JIT load, first file) excluded
                c0, t0 = proc_cpu_s(proc.pid), time.monotonic()
                n0 = len(dev.ledger.ok())
                time.sleep(seconds)
                c1, t1, n1 = proc_cpu_s(proc.pid), time.monotonic(), len(dev.ledger.ok())
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=60)
        share = (c1 - c0) / (t1 - t0) * 100
        rate = (n1 - n0) * spf / (t1 - t0)
        print(f"bshm acquire, 16 ch x 1 kHz int24 ({spf} samples/frame, {rate:.0f} samples/s "
              f"per channel delivered): CPU {share:.2f} % of one core over {t1 - t0:.0f} s "
              f"(exit code {proc.returncode})")
        if proc.returncode != 0:
            print(err[-2000:])


def bench_disk_full(repeats: int = 3) -> None:
    """Writer of acquire on a full tmpfs: cost while full, time to recover."""
    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    spec = SourceSpec("fast", "serial", 1000.0,
                      tuple(ChannelMeta(f"ch{i:02d}", "acceleration", "m/s2") for i in range(16)))
    block = np.random.default_rng(0).standard_normal((250, 16)).astype(np.float32)
    t_ref = 1_772_359_200_000_000_000
    with tempfile.TemporaryDirectory() as tmp:
        mnt = pathlib.Path(tmp) / "mnt"
        mnt.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", str(mnt)],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"disk full: skipped, cannot mount a tmpfs ({r.stderr.strip()})")
            return
        try:
            full_us, rec_s = [], []
            for k in range(repeats):
                data = mnt / f"d{k}"
                w = RawWriter(data, "bench", [spec], on_disk_full="buffer",
                              max_buffer_bytes=64 * 2**20)
                t = t_ref
                for _ in range(40):  # 10 s on disk first
                    w.write("fast", block, t0_ns=t)
                    t += 250_000_000
                w.flush()
                filler = mnt / "filler"
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * 2**20)
                    except OSError:
                        pass
                n = (64 * 2**20) // block.nbytes  # blocks that fit the memory bound
                c0 = time.process_time()
                for _ in range(n):
                    w.write("fast", block, t0_ns=t)
                    t += 250_000_000
                w.flush()
                full_us.append((time.process_time() - c0) / n * 1e6)
                assert w.disk_full
                assert not any(w.dropped.values())
                filler.unlink()
                t0 = time.perf_counter()
                w.flush()
                rec_s.append(time.perf_counter() - t0)
                assert not w.disk_full
                w.close()
                for p in data.iterdir():
                    p.unlink()
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
    mb = 64 * 2**20 / 1e6
    print(f"disk full, 16 ch x 1 kHz in 0.25-s blocks (acquire's writer, buffer mode): "
          f"{statistics.median(full_us):.0f} us CPU per block while full; recovery writes "
          f"the 64 MiB buffer ({n * 250 / 1000 / 60:.1f} min of data) in "
          f"{statistics.median(rec_s):.2f} s ({mb / statistics.median(rec_s):.0f} MB/s, tmpfs, "
          f"median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--spf", type=int, nargs="+", default=[50],
                        help="samples per frame of the CPU runs (50: 20 frames/s)")
    parser.add_argument("--disk-full", action="store_true",
                        help="also the full-disk writer benchmark (needs root for a tmpfs)")
    parser.add_argument("--skip-decoders", action="store_true")
    args = parser.parse_args()
    cpu = pathlib.Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines()
                  if ln.startswith("model name")), "?")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, {model}")
    if not args.skip_decoders:
        bench_decoders()
    if not args.skip_cpu:
        for spf in args.spf:
            bench_cpu(args.cpu_seconds, spf)
    if args.disk_full:
        bench_disk_full()


if __name__ == "__main__":
    main()
