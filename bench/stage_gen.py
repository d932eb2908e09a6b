#!/usr/bin/env python3
"""Writes a realistic CSV of about SIZE_MB megabytes for the staging benchmark.

Usage: stage_gen.py OUT SIZE_MB [SEED]

A 16 MiB block of varied rows (ids, names with quotes, addresses with
commas, dates, decimals, free text, some non-ASCII) is generated once and
repeated with its ids shifted, so a gigabyte takes seconds to write.  The
block is larger than deflate's 32 KiB window, so repetition does not make
gzip's job easier.
"""
import random
import sys

FIRST = ["Anna", "Jan", "Petra", "Tomáš", "Zoë", "Liam", "Olivia", "Noah", "Émile", "Søren"]
LAST = ["Novák", "Smith", "O'Brien", "García", "Müller", "Dvořák", "Kim", "Nguyen", "Rossi"]
STREETS = ["Main St", "Dlouhá", "Baker Street", "Rue de Rivoli", "Hauptstraße", "Elm Ave"]
CITIES = ["Prague", "London", "Paris", "Berlin", "Brno", "New York", "São Paulo"]
WORDS = ("order shipped late customer asked refund box damaged great service "
         "will buy again colour size wrong delivery quick").split()


def row(rnd, i):
    name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
    if rnd.random() < 0.05:
        name = f'{name} ""The {rnd.choice(WORDS)}""'
    addr = f"{rnd.randint(1, 999)} {rnd.choice(STREETS)}, {rnd.choice(CITIES)}"
    note = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 12)))
    if rnd.random() < 0.1:
        note += ", then " + rnd.choice(WORDS)
    date = f"20{rnd.randint(10, 25)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
    amount = f"{rnd.randint(0, 99999)}.{rnd.randint(0, 99):02d}"
    return f'{i},"{name}","{addr}",{date},{amount},{rnd.randint(0, 1)},"{note}"\n'


def main():
    out, size_mb = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    rows, size, i = [], 0, 0
    while size < 16 << 20:
        r = row(rnd, i)
        rows.append(r)
        size += len(r.encode())
        i += 1
    block = "".join(rows).encode()
    target = size_mb * 1000 * 1000
    with open(out, "wb") as f:
        f.write(b"id,name,address,date,amount,active,note\n")
        written = 0
        while written < target:
            part = block[: target - written]
            if len(part) < len(block):  # end on a whole row
                part = part[: part.rfind(b"\n") + 1] or block[: block.find(b"\n") + 1]
            f.write(part)
            written += len(part)


if __name__ == "__main__":
    main()
