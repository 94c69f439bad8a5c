#!/usr/bin/env python3
"""Seed benchmark users straight into a restauth SQLite file, in one transaction.

    seed.py DATABASE TOTAL

Users are named bench0000001, bench0000002, ... (id N is "bench%07d" % N) with the
address benchN@bench.invalid, verified, active, and all share the password hash
of user 1, which bench/run.sh creates with `restauth user create` (one real
PBKDF2 hash at the configured iteration count, reused for every row). Rows from
max(id)+1 up to TOTAL are added, so seeding 1,000 and later 1,000,000 extends
the same table. A progress line goes to stderr.
"""

import sqlite3
import sys
import time

CHUNK = 20_000


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path, total = sys.argv[1], int(sys.argv[2].replace("_", ""))
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: keep the indexes in memory while seeding
    row = conn.execute("SELECT password FROM users WHERE id = 1").fetchone()
    if row is None:
        print("seed.py: user 1 (the template for the password hash) is missing", file=sys.stderr)
        return 1
    password = row[0]
    start = conn.execute("SELECT max(id) FROM users").fetchone()[0] + 1
    if start > total:
        print(f"seed: {start - 1} users already, nothing to add", file=sys.stderr)
        return 0
    now = int(time.time())
    todo = total - start + 1
    began = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for lo in range(start, total + 1, CHUNK):
            hi = min(lo + CHUNK, total + 1)
            conn.executemany(
                "INSERT INTO users (id, username, username_lower, email, email_verified,"
                " first_name, last_name, password, is_active, date_joined, last_login)"
                " VALUES (?, ?, ?, ?, 1, '', '', ?, 1, ?, NULL)",
                (
                    (i, name, name, name + "@bench.invalid", password, now)
                    for i in range(lo, hi)
                    for name in ("bench%07d" % i,)
                ),
            )
            done = hi - start
            print(
                f"\rseed: {hi - 1:>9,} / {total:,} users ({100 * done // todo:3d} %)",
                end="",
                file=sys.stderr,
                flush=True,
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    took = time.monotonic() - began
    print(f"\rseed: {total:,} users; added {todo:,} in {took:.1f} s ({todo / took:,.0f} rows/s)   ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
