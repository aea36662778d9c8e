-- Login sessions. Each login starts one; its refresh tokens are its family and its access
-- tokens carry its id (claim `sid`). The API refuses any token whose session has ended, on
-- every request, with one primary-key lookup (no RLS here: like refresh_tokens, only the
-- engine's auth path reaches this table).
CREATE TABLE auth_sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Logout, refresh token reuse, or a change of the user (below).
    ended_at    timestamptz
);
CREATE INDEX auth_sessions_live_by_user ON auth_sessions (user_id) WHERE ended_at IS NULL;

-- Tokens issued before this migration have no session: they can be refreshed no more.
ALTER TABLE refresh_tokens ADD COLUMN session_id uuid REFERENCES auth_sessions (id) ON DELETE CASCADE;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- A user deactivated, moved to another role or tenant, or given a new password loses every
-- session at once, whoever made the change (API, admin command, SQL): the per-request check
-- then only has to ask whether the token's session is still live.
CREATE FUNCTION centinela_end_user_sessions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active IS DISTINCT FROM OLD.active
        OR NEW.role IS DISTINCT FROM OLD.role
        OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
        OR NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        UPDATE auth_sessions SET ended_at = now() WHERE user_id = NEW.id AND ended_at IS NULL;
        UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = NEW.id AND revoked_at IS NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER users_end_sessions AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION centinela_end_user_sessions();
