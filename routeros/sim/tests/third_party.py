"""Cross-checks the RouterOS simulator with two independent PyPI clients.

librouteros 4.2.2 and routeros-api 0.21.0 are black-box peers: if they log in, read rows and
raise their usual errors against the simulator, its wire behaviour matches what they were
written against (real routers). Run by the Rust test `third_party.rs`, which starts one
simulator with the plain login and one with --legacy-login, both with the same scenario:
cpu-load 28, interfaces ether1, ether2, wlan1, a "router rebooted" log line.

A plain script (no pytest): prints each check, exits non-zero on the first failure.
"""

import argparse
import sys

import librouteros
import librouteros.login
import routeros_api
from librouteros.exceptions import MultiTrapError, TrapError
from librouteros.query import Key
from routeros_api.exceptions import RouterOsApiCommunicationError

HOST = "127.0.0.1"
INTERFACES = ["ether1", "ether2", "wlan1"]


def check(what, condition, detail=""):
    if not condition:
        print(f"FAILED: {what} {detail}")
        sys.exit(1)
    print(f"ok: {what}")


def librouteros_checks(args):
    api = librouteros.connect(HOST, args.user, args.password, port=args.plain_port)
    resource = tuple(api.path("system", "resource"))
    check("librouteros plain login, /system/resource/print cpu-load == 28 (cast to int)",
          resource[0]["cpu-load"] == 28, repr(resource))
    names = [row["name"] for row in api.path("interface")]
    check("librouteros /interface/print names", names == INTERFACES, repr(names))
    ether = [row["name"] for row in api.path("interface").select(Key("name")).where(Key("type") == "ether")]
    check("librouteros query Key('type') == 'ether'", ether == ["ether1", "ether2"], repr(ether))
    chosen = [row["name"] for row in api.path("interface").select(Key("name")).where(Key("name").In("ether2", "wlan1"))]
    check("librouteros query Key('name').In(...)", chosen == ["ether2", "wlan1"], repr(chosen))
    messages = [row["message"] for row in api.path("log")]
    check("librouteros /log/print messages", "router rebooted" in messages
          and f"user {args.user} logged in from 127.0.0.1 via api" in messages, repr(messages))
    try:
        tuple(api("/x/print"))
        check("librouteros unknown command raises", False)
    except MultiTrapError as error:
        check("librouteros unknown command -> MultiTrapError",
              str(error) == "no such command or directory (x), no such command prefix", repr(str(error)))
    api.close()

    try:
        librouteros.connect(HOST, args.user, "wrong", port=args.plain_port)
        check("librouteros wrong password raises", False)
    except TrapError as error:
        check("librouteros wrong password -> TrapError", str(error) == "invalid user name or password (6)",
              repr(str(error)))

    legacy = librouteros.connect(HOST, args.user, args.password, port=args.legacy_port,
                                 login_method=librouteros.login.token)
    resource = tuple(legacy.path("system", "resource"))
    check("librouteros token (pre-6.43) login against --legacy-login", resource[0]["cpu-load"] == 28)
    legacy.close()
    try:
        librouteros.connect(HOST, args.user, "wrong", port=args.legacy_port, login_method=librouteros.login.token)
        check("librouteros legacy wrong password raises", False)
    except TrapError as error:
        check("librouteros legacy wrong password -> TrapError 'cannot log in'", str(error) == "cannot log in",
              repr(str(error)))


def routeros_api_checks(args):
    pool = routeros_api.RouterOsApiPool(HOST, username=args.user, password=args.password, port=args.plain_port,
                                        plaintext_login=True)
    api = pool.get_api()
    resource = api.get_resource("/system/resource").get()
    check("routeros-api plain login, cpu-load == '28' (kept as string)", resource[0]["cpu-load"] == "28",
          repr(resource))
    names = [row["name"] for row in api.get_resource("/interface").get()]
    check("routeros-api /interface/print names", names == INTERFACES, repr(names))
    wlan = [row["name"] for row in api.get_resource("/interface").get(type="wlan")]
    check("routeros-api query type=wlan", wlan == ["wlan1"], repr(wlan))
    messages = [row["message"] for row in api.get_resource("/log").get()]
    check("routeros-api /log/print messages", "router rebooted" in messages, repr(messages))
    try:
        api.get_binary_resource("/x").call("print")
        check("routeros-api unknown command raises", False)
    except RouterOsApiCommunicationError as error:
        check("routeros-api unknown command -> RouterOsApiCommunicationError (last trap)",
              error.original_message == b"no such command prefix", repr(error.original_message))
    pool.disconnect()

    try:
        routeros_api.RouterOsApiPool(HOST, username=args.user, password="wrong", port=args.plain_port,
                                     plaintext_login=True).get_api()
        check("routeros-api wrong password raises", False)
    except RouterOsApiCommunicationError as error:
        check("routeros-api wrong password -> 'invalid user name or password (6)'",
              error.original_message == b"invalid user name or password (6)", repr(error.original_message))

    legacy = routeros_api.RouterOsApiPool(HOST, username=args.user, password=args.password, port=args.legacy_port,
                                          plaintext_login=False)
    resource = legacy.get_api().get_resource("/system/resource").get()
    check("routeros-api plaintext_login=False (challenge) against --legacy-login", resource[0]["cpu-load"] == "28")
    legacy.disconnect()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plain-port", type=int, required=True)
    parser.add_argument("--legacy-port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    librouteros_checks(args)
    routeros_api_checks(args)
    print("all third-party checks passed")


if __name__ == "__main__":
    main()
