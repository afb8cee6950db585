#!/usr/bin/env python3
"""Run the firmware image under QEMU and compare its transcript with an expected one.

    check.py [--qemu qemu-system-arm] [--timeout S] EXPECTED.txt IMAGE.elf

Each line of EXPECTED.txt must match the image's output line at the same position:
exactly, or, for a line of the form "LABEL: <= N" (a budget), the output line must
be "LABEL: V ..." with the integer V at most N. Lines starting with '#' in
EXPECTED.txt are comments. Any missing, extra or different line, a QEMU exit status
other than 0, or a run longer than the timeout fails the test.
"""
import argparse
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", default="qemu-system-arm")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("expected")
    ap.add_argument("image")
    a = ap.parse_args()

    cmd = [a.qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", a.image]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=a.timeout)
    except subprocess.TimeoutExpired as e:
        sys.stdout.write((e.stdout or b"").decode(errors="replace"))
        print(f"check: FAIL: no exit within {a.timeout:.0f} s")
        return 1
    out = r.stdout.decode(errors="replace").splitlines()
    sys.stdout.write("\n".join(out) + "\n")
    exp = [l.rstrip("\n") for l in open(a.expected) if not l.startswith("#")]
    fails = []
    for i in range(max(len(exp), len(out))):
        e = exp[i] if i < len(exp) else "<end of transcript>"
        o = out[i] if i < len(out) else "<end of output>"
        m = re.fullmatch(r"(.*): <= (\d+)", e)
        if m:
            v = re.fullmatch(re.escape(m.group(1)) + r": (\d+)( .*)?", o)
            if not v or int(v.group(1)) > int(m.group(2)):
                fails.append(f"line {i + 1}: expected {e!r}, got {o!r}")
        elif e != o:
            fails.append(f"line {i + 1}: expected {e!r}, got {o!r}")
    if r.returncode:
        fails.append(f"qemu exit status {r.returncode}")
    for f in fails:
        print("check: FAIL:", f)
    if not fails:
        print("check: transcript matches", a.expected)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
