import { useEffect, useState } from "preact/hooks";
import { login, meta } from "../../api/auth";
import { ApiError } from "../../api/client";
import type { Meta } from "../../api/types";
import { t } from "../../i18n/es-MX";

export function LoginPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [demo, setDemo] = useState<Meta | null>(null);
  useEffect(() => {
    void meta().then(setDemo);
  }, []);

  async function submit(e?: Event, asEmail = email, asPassword = password) {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(asEmail, asPassword);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 429 ? t("tooManyAttempts") : t("loginFailed"));
    } finally {
      setBusy(false);
    }
  }

  const first = demo?.accounts[0];
  return (
    <main class="login">
      <form class="card login-card" onSubmit={(e) => void submit(e)}>
        <h1>{t("appName")}</h1>
        <label>
          {t("email")}
          <input type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          {t("password")}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>
          {t("login")}
        </button>
        {demo?.demo && first && (
          <section class="demo">
            <button type="button" class="demo-button" disabled={busy} onClick={() => void submit(undefined, first.email, first.password)}>
              {t("demoMode")}
            </button>
            <p>{t("demoHint")}</p>
            <ul>
              {demo.accounts.map((a) => (
                <li key={a.email}>
                  <button type="button" class="link" onClick={() => void submit(undefined, a.email, a.password)}>
                    {a.label ?? a.role}: {a.email}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </form>
    </main>
  );
}
