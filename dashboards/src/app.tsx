// Routing (hash based, so any static server works), login gate, and the socket's lifetime.
import { useEffect, useMemo, useState } from "preact/hooks";
import { logout } from "./api/auth";
import { listTenants } from "./api/tenants";
import { DeviceDetail } from "./features/devices/DeviceDetail";
import { LoginPage } from "./features/login/LoginPage";
import { Shell } from "./features/shell/Shell";
import { NewTicket } from "./features/tickets/NewTicket";
import { TicketDetail } from "./features/tickets/TicketDetail";
import { TicketList } from "./features/tickets/TicketList";
import { Wall } from "./features/wall/Wall";
import { setNoc } from "./live/instance";
import { NocSocket } from "./live/socket";
import { tenants, user } from "./state/session";
import { filter, receive, reloadDevices, resync } from "./state/store";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#/, "") || "/";
}

export function App() {
  return user.value ? <LoggedIn /> : <LoginPage />;
}

function LoggedIn() {
  const path = useHash();
  const socket = useMemo(
    () => new NocSocket({ resync, onEvent: receive, onSessionEnded: () => void logout() }),
    [],
  );
  useEffect(() => {
    setNoc(socket);
    socket.start();
    void listTenants().then((list) => (tenants.value = list)).catch(() => undefined);
    return () => {
      socket.stop();
      setNoc(null);
    };
  }, [socket]);
  // Filters run on the server: a change reloads the grid (live events keep applying).
  const f = filter.value;
  useEffect(() => {
    if (socket.status.peek() === "live") void reloadDevices();
  }, [f]);
  const [, a, b] = path.split("/");
  const route = a === "tickets" ? "tickets" : "wall";
  return (
    <Shell status={socket.status.value} route={route}>
      {a === "dispositivos" && b ? (
        <DeviceDetail id={b} />
      ) : a === "tickets" && b === "nuevo" ? (
        <NewTicket />
      ) : a === "tickets" && b ? (
        <TicketDetail id={b} />
      ) : a === "tickets" ? (
        <TicketList />
      ) : (
        <Wall />
      )}
    </Shell>
  );
}
