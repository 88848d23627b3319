#!/usr/bin/env python3
"""A large sysdiagnose folder for `make bench` (issue 22's speed target): a PowerLog of
about 50 MB with the real tables and columns (process launches, traffic intervals,
coalition intervals, application states, clock offsets) and a 4,000-line ps.txt in
BSD ps's sysdiagnose layout. Synthetic and seeded; not evidence of anything.

usage: large_sysdiagnose.py OUT_DIR [MB] [worst]

By default the four tables chainline reads hold 4.6 % of the rows, as in plaso's real
PowerLog (1,746 of 38,199 rows over its 368 tables); the rest go to a battery table
chainline does not read. `worst` puts every row in the four tables.
"""
import os
import random
import sqlite3
import sys

out = sys.argv[1]
target_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 50.0
worst = len(sys.argv) > 3 and sys.argv[3] == "worst"
rnd = random.Random(20221216)
top = os.path.join(out, "sysdiagnose_2022.09.20_18-40-03+0300_iPhone-OS_iPhone_19H12")
os.makedirs(os.path.join(top, "logs/powerlogs"), exist_ok=True)
db_path = os.path.join(top, "logs/powerlogs/powerlog_2022-09-20_18-40_84E2141B.PLSQL")
if os.path.exists(db_path):
    os.remove(db_path)
db = sqlite3.connect(db_path)
db.executescript("""
CREATE TABLE PLProcessMonitorAgent_EventForward_ProcessID (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, BundleID TEXT, CoalitionID INTEGER, PID INTEGER, ProcessName TEXT);
CREATE TABLE PLProcessNetworkAgent_EventInterval_UsageDiff (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, BundleName TEXT, CellIn INTEGER, CellOut INTEGER, ProcessName TEXT, WifiIn INTEGER, WifiOut INTEGER, timestampEnd REAL);
CREATE TABLE PLCoalitionAgent_EventInterval_CoalitionInterval (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, BundleId TEXT, LaunchdCoalitionId INTEGER, LaunchdName TEXT, bytesread REAL, byteswritten REAL, cpu_instructions INTEGER, cpu_time REAL, energy INTEGER, tasks_exited REAL, tasks_started REAL, timestampEnd REAL);
CREATE TABLE PLApplicationAgent_EventForward_Application (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, Identifier TEXT, pid INTEGER, State INTEGER, Reason INTEGER);
CREATE TABLE PLBatteryAgent_EventBackward_Battery (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, Amperage REAL, AppleRawCurrentCapacity REAL, CurrentCapacity REAL, CycleCount INTEGER, Temperature REAL, Voltage REAL, InstantAmperage REAL, IsCharging INTEGER, Level REAL, RawMaxCapacity REAL);
CREATE TABLE PLStorageOperator_EventForward_TimeOffset (ID INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL, baseband REAL, kernel REAL, system REAL);
""")
names = [f"daemon{i}d" for i in range(300)] + [f"com.example.app{i}" for i in range(120)]
start = 1_660_000_000.0
db.execute("INSERT INTO PLStorageOperator_EventForward_TimeOffset (timestamp, baseband, kernel, system) VALUES (?, 0.04, -1571153284.1, -411.57)", (start,))
t = start
batch = 20_000 if worst else 500
while os.path.getsize(db_path) < target_mb * 1e6:
    launches, traffic, coal, apps, battery = [], [], [], [], []
    # Real share: per four rows of the four tables (one each), 83 of the others.
    per = 0 if worst else 83
    for _ in range(batch * per):
        t += rnd.random() * 0.5
        battery.append((t, rnd.random() * -500, rnd.random() * 3000, rnd.random() * 3000, rnd.randrange(100, 900), 30 + rnd.random() * 5, 3800 + rnd.random() * 400, rnd.random() * -500, rnd.randrange(0, 2), rnd.random() * 100, 3000.0))
    for _ in range(batch):
        t += rnd.random() * 2
        n = rnd.choice(names)
        b = n if n.startswith("com.") else ""
        launches.append((t, b, rnd.randrange(100, 900), rnd.randrange(50, 9000), n))
        traffic.append((t, b, rnd.randrange(0, 9999), rnd.randrange(0, 999), n, rnd.randrange(0, 99999), rnd.randrange(0, 9999), t + 300))
        coal.append((t, b, rnd.randrange(100, 900), n, rnd.random() * 1e6, rnd.random() * 1e5, rnd.randrange(1 << 30), rnd.random(), rnd.randrange(1 << 24), 1.0, 1.0, t + 300))
        apps.append((t, b or "com.example.app0", rnd.randrange(50, 9000), rnd.randrange(0, 8), rnd.randrange(0, 20)))
    db.executemany("INSERT INTO PLProcessMonitorAgent_EventForward_ProcessID (timestamp, BundleID, CoalitionID, PID, ProcessName) VALUES (?,?,?,?,?)", launches)
    db.executemany("INSERT INTO PLProcessNetworkAgent_EventInterval_UsageDiff (timestamp, BundleName, CellIn, CellOut, ProcessName, WifiIn, WifiOut, timestampEnd) VALUES (?,?,?,?,?,?,?,?)", traffic)
    db.executemany("INSERT INTO PLCoalitionAgent_EventInterval_CoalitionInterval (timestamp, BundleId, LaunchdCoalitionId, LaunchdName, bytesread, byteswritten, cpu_instructions, cpu_time, energy, tasks_exited, tasks_started, timestampEnd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", coal)
    db.executemany("INSERT INTO PLBatteryAgent_EventBackward_Battery (timestamp, Amperage, AppleRawCurrentCapacity, CurrentCapacity, CycleCount, Temperature, Voltage, InstantAmperage, IsCharging, Level, RawMaxCapacity) VALUES (?,?,?,?,?,?,?,?,?,?,?)", battery)
    db.executemany("INSERT INTO PLApplicationAgent_EventForward_Application (timestamp, Identifier, pid, State, Reason) VALUES (?,?,?,?,?)", apps)
    db.commit()
db.close()

with open(os.path.join(top, "ps.txt"), "w") as f:
    f.write("USER               UID PRSNA   PID  PPID        F  %CPU %MEM PRI NI      VSZ    RSS WCHAN    TT  STAT STARTED      TIME COMMAND\n")
    for pid in range(1, 4000):
        f.write(f"mobile             501     - {pid:>5}     1     4004   0.0  0.1  31  0  4435210  22749 -         ??  Ss   18Aug22    0:01.00 /usr/libexec/daemon{pid % 300}d --flag\n")
print(f"{top}: PowerLog {os.path.getsize(db_path) / 1e6:.1f} MB, ps.txt 4,000 lines")
