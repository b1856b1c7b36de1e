"""``bshm simulate devices CONFIG``: serve the virtual devices of a station."""

from __future__ import annotations

import argparse

NAME = "devices"
GROUP = "simulate"
HELP = "serve the virtual devices a station config names (ptys, Modbus TCP)"
DESCRIPTION = """\
Start every virtual device of the station, streaming the simulated bridge in
real time: each serial source on a pseudo-terminal exposed at the port path
its config names (a symlink), Modbus TCP on the configured 127.0.0.1
host/port, Modbus RTU on a pseudo-terminal likewise. Runs until Ctrl-C or
SIGTERM (or --duration), then removes its symlinks.

Faults can be injected into the serial devices, e.g.

    bshm simulate devices station.toml --faults bit_flip=0.01,garbage=0.005,disconnect=0.001

Keys (probabilities per frame unless noted): bit_flip, byte_error (per
byte), drop_byte, insert_byte, truncate, garbage, garbage_max (bytes),
pause, pause_s, disconnect, disconnect_s, seed.

Faults of the Modbus devices (TCP and RTU), e.g.

    bshm simulate devices station.toml --modbus-faults exception=4,units=2
    bshm simulate devices station.toml --modbus-faults delay=0.5

Keys: no_response (1/0), exception (code, e.g. 2 illegal address, 4 device
failure), delay (s per response), units (ids separated by ';', default all),
remaining (number of requests affected, default all).

Virtual Modbus TCP devices listen only on loopback hosts (127.0.0.1,
localhost): a config naming another host (e.g. 0.0.0.0) is refused (exit
code 2) unless --allow-remote is given, which serves it to the network
with a warning.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("config", metavar="CONFIG", help="station.toml")
    parser.add_argument("--faults", default=None, metavar="K=V,...",
                        help="fault injection for the serial devices (see above)")
    parser.add_argument("--modbus-faults", default=None, metavar="K=V,...",
                        help="fault injection for the Modbus devices (see above)")
    parser.add_argument("--duration", default=None, metavar="S",
                        help="stop after this long (default: until stopped)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated bridge")
    parser.add_argument(
        "--allow-remote", action="store_true",
        help="serve Modbus TCP devices on a non-loopback host named by the config "
             "(e.g. 0.0.0.0), reachable from the network; without it such a config "
             "is refused",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the devices until stopped."""
    import signal
    import threading

    from bshm.config import load_station
    from bshm.errors import ConfigError
    from bshm.timeutil import NS_PER_S, parse_duration

    try:
        from bshm.fixtures.virtual_modbus import ModbusFaults
        from bshm.fixtures.virtual_serial import FaultConfig

        faults = FaultConfig.parse(args.faults)
        ModbusFaults.parse(args.modbus_faults)  # check the syntax before starting anything
        duration = None if args.duration is None else parse_duration(args.duration) / NS_PER_S
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    station = load_station(args.config)
    from bshm.fixtures.devices import start_devices

    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001 - signal API
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start_devices(station, faults=faults, seed=args.seed,
                           modbus_faults=args.modbus_faults,
                           allow_remote=args.allow_remote) as devices:
            for line in devices.describe():
                print(line, flush=True)
            stop.wait(duration)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
