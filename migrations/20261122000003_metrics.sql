-- The metrics table: a TimescaleDB hypertable when the extension can be created, native range
-- partitioning by time otherwise. The same queries (date_bin, plain SELECT) run on both.
--
-- metrics has no row-level security on either path: TimescaleDB refuses RLS on hypertables with
-- compression and continuous aggregates over RLS tables. Every metrics query therefore joins the
-- RLS-protected devices table inside the caller's scoped transaction (storage::metrics).
--
-- On TimescaleDB the retention policy is applied by the engine at start (it is configurable);
-- on plain PostgreSQL the engine creates partitions ahead and drops expired ones.

DO $$
DECLARE
    has_timescale boolean := false;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            has_timescale := true;
        EXCEPTION WHEN OTHERS THEN
            -- Installed but not in shared_preload_libraries, or not permitted: fall back.
            RAISE NOTICE 'timescaledb cannot be created (%), using native partitioning', SQLERRM;
        END;
    END IF;

    IF has_timescale THEN
        CREATE TABLE metrics (
            ts         timestamptz      NOT NULL,
            tenant_id  uuid             NOT NULL,
            device_id  uuid             NOT NULL,
            name       text             NOT NULL,
            value      double precision NOT NULL
        );
        PERFORM create_hypertable('metrics', by_range('ts', INTERVAL '1 day'));
        CREATE INDEX metrics_device_name_ts ON metrics (device_id, name, ts DESC);

        ALTER TABLE metrics SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'device_id, name',
            timescaledb.compress_orderby = 'ts DESC'
        );
        PERFORM add_compression_policy('metrics', compress_after => INTERVAL '7 days');

        EXECUTE $view$
            CREATE MATERIALIZED VIEW metrics_1m
            WITH (timescaledb.continuous) AS
            SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
                   tenant_id, device_id, name,
                   avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS count
            FROM metrics
            GROUP BY bucket, tenant_id, device_id, name
            WITH NO DATA
        $view$;
        PERFORM add_continuous_aggregate_policy('metrics_1m',
            start_offset => INTERVAL '1 hour',
            end_offset => INTERVAL '1 minute',
            schedule_interval => INTERVAL '1 minute');
    ELSE
        CREATE TABLE metrics (
            ts         timestamptz      NOT NULL,
            tenant_id  uuid             NOT NULL,
            device_id  uuid             NOT NULL,
            name       text             NOT NULL,
            value      double precision NOT NULL
        ) PARTITION BY RANGE (ts);
        -- Catches rows outside the engine-made daily partitions (late or far-future points), so
        -- no accepted point is ever refused by the database.
        CREATE TABLE metrics_default PARTITION OF metrics DEFAULT;
        CREATE INDEX metrics_device_name_ts ON metrics (device_id, name, ts DESC);
    END IF;
END
$$;
