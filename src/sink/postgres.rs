//! The PostgreSQL output: a table (created if missing) with a primary key
//! on `event_id`, filled by binary `COPY` in transactions that also move
//! this output's cursor row, so a crash never leaves half a ledger or a
//! duplicate. A lost connection is retried with backoff from the cursor.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{
    Array, BooleanArray, RecordBatch, StringArray, TimestampSecondArray, UInt32Array,
};
use bytes::{BufMut, BytesMut};
use tokio::runtime::Handle;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Client;

use super::output::Output;
use crate::config::redact;
use crate::config::ConfigError;
use crate::flight::BatchMeta;
use crate::retry::Backoff;

/// Waits between attempts of a commit whose connection was lost.
const COMMIT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));

/// A `numeric` holding an i128 exactly (binary wire format).
#[derive(Debug, Clone, Copy)]
pub struct Numeric(pub i128);

impl ToSql for Numeric {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Base-10000 digits, most significant first; trailing zero groups
        // are dropped as PostgreSQL does (the weight keeps the magnitude).
        let mut digits = Vec::new();
        let mut rest = self.0.unsigned_abs();
        while rest > 0 {
            digits.push((rest % 10_000) as i16);
            rest /= 10_000;
        }
        digits.reverse();
        let weight = digits.len().saturating_sub(1) as i16;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        out.put_i16(digits.len() as i16);
        out.put_i16(weight);
        out.put_u16(if self.0 < 0 { 0x4000 } else { 0 });
        out.put_i16(0);
        for d in digits {
            out.put_i16(d);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

/// Column types of the table, in schema order.
const TYPES: [Type; 18] = [
    Type::TEXT,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::INT4,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::NUMERIC,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
];

const COLUMNS: &str = "event_id, ledger_sequence, closed_at, tx_hash, transaction_index, operation_index, event_type, \
    \"from\", \"to\", asset, asset_type, asset_code, asset_issuer, amount, contract_address, to_muxed_id, to_muxed_type, successful";

/// Checks a table name: `name` or `schema.name`, letters, digits, `_`.
pub(crate) fn check_table(table: &str) -> Result<(), ConfigError> {
    let ok = !table.is_empty()
        && table.split('.').count() <= 2
        && table.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "invalid value for --postgres-table: {table:?} (expected a name or schema.name of letters, digits and _)"
        )))
    }
}

/// The PostgreSQL output.
pub struct PostgresOutput {
    url: String,
    table: String,
    name: String,
    runtime: Handle,
    client: Option<Client>,
    cursor: Option<u32>,
    pending: Vec<RecordBatch>,
    pending_end: Option<u32>,
    rows: u64,
    batch_rows: u64,
    /// Rows committed so far.
    pub rows_written: u64,
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (url, tls) = super::pg_tls::prepare(url).map_err(anyhow::Error::msg)?;
    let (client, connection) = tokio_postgres::connect(&url, tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

impl PostgresOutput {
    /// Connects, creates the table, its indexes and the cursor table, and
    /// reads this output's cursor.
    pub fn open(url: &str, table: &str, batch_rows: u64, runtime: Handle) -> anyhow::Result<Self> {
        check_table(table)?;
        let name = format!("postgres:{}", redact(url));
        let output = name.clone();
        let client = runtime.block_on(async {
            let client = connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("{output}: cannot connect: {e:#}"))?;
            let index = |column: &str, suffix: &str| {
                let bare = table.rsplit('.').next().unwrap_or(table);
                format!("CREATE INDEX IF NOT EXISTS {bare}_{suffix}_idx ON {table} ({column})")
            };
            let ddl = [
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (
                        event_id text PRIMARY KEY,
                        ledger_sequence bigint NOT NULL,
                        closed_at timestamptz NOT NULL,
                        tx_hash text NOT NULL,
                        transaction_index integer NOT NULL,
                        operation_index integer,
                        event_type text NOT NULL,
                        \"from\" text,
                        \"to\" text,
                        asset text,
                        asset_type text,
                        asset_code text,
                        asset_issuer text,
                        amount numeric(39, 0) NOT NULL,
                        contract_address text NOT NULL,
                        to_muxed_id text,
                        to_muxed_type text,
                        successful boolean NOT NULL)"
                ),
                index("ledger_sequence", "ledger"),
                index("tx_hash", "tx_hash"),
                index("\"from\"", "from"),
                index("\"to\"", "to"),
                index("asset", "asset"),
                "CREATE TABLE IF NOT EXISTS stellarflow_cursors (
                    output text PRIMARY KEY, ledger bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                    .to_string(),
            ];
            for statement in ddl {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(|e| anyhow::anyhow!("{output}: cannot prepare table {table}: {e}"))?;
            }
            Ok::<_, anyhow::Error>(client)
        })?;
        let key = format!("{name}/{table}");
        let cursor = runtime
            .block_on(client.query_opt(
                "SELECT ledger FROM stellarflow_cursors WHERE output = $1",
                &[&key],
            ))
            .map_err(|e| anyhow::anyhow!("{name}: cannot read the cursor: {e}"))?
            .map(|row| row.get::<_, i64>(0) as u32);
        Ok(PostgresOutput {
            url: url.to_string(),
            table: table.to_string(),
            name,
            runtime,
            client: Some(client),
            cursor,
            pending: Vec::new(),
            pending_end: None,
            rows: 0,
            batch_rows,
            rows_written: 0,
        })
    }

    fn key(&self) -> String {
        format!("{}/{}", self.name, self.table)
    }

    /// One transaction: COPY the pending rows, move the cursor, commit.
    async fn copy(
        client: &mut Client,
        table: &str,
        key: &str,
        batches: &[RecordBatch],
        end: u32,
    ) -> anyhow::Result<u64> {
        let transaction = client.transaction().await?;
        let sink = transaction
            .copy_in(&format!(
                "COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &TYPES);
        futures::pin_mut!(writer);
        let mut rows = 0;
        for batch in batches {
            rows += write_batch(writer.as_mut(), batch).await?;
        }
        writer.finish().await?;
        transaction
            .execute(
                "INSERT INTO stellarflow_cursors (output, ledger, updated_at) VALUES ($1, $2, now())
                 ON CONFLICT (output) DO UPDATE SET ledger = EXCLUDED.ledger, updated_at = now()",
                &[&key, &i64::from(end)],
            )
            .await?;
        transaction.commit().await?;
        Ok(rows)
    }
}

/// Errors worth a new connection and another try: a closed connection,
/// SQLSTATE class 08 (connection exception), operator intervention
/// (57P01-57P03: the server is shutting down or the backend was
/// terminated), and serialization failures or deadlocks.
fn retryable(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            let code = code.code();
            code.starts_with("08")
                || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }
        None => error.as_db_error().is_none(),
    }
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> anyhow::Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| anyhow::anyhow!("ttp_event batch without a usable `{name}` column"))
}

async fn write_batch(
    mut writer: std::pin::Pin<&mut BinaryCopyInWriter>,
    batch: &RecordBatch,
) -> anyhow::Result<u64> {
    let text = |name: &str| column::<StringArray>(batch, name);
    let (event_id, tx_hash, event_type) =
        (text("event_id")?, text("tx_hash")?, text("event_type")?);
    let (from, to, asset) = (text("from")?, text("to")?, text("asset")?);
    let (asset_type, asset_code, asset_issuer) = (
        text("asset_type")?,
        text("asset_code")?,
        text("asset_issuer")?,
    );
    let (amount, contract) = (text("amount")?, text("contract_address")?);
    let (muxed_id, muxed_type) = (text("to_muxed_id")?, text("to_muxed_type")?);
    let ledger = column::<UInt32Array>(batch, "ledger_sequence")?;
    let tx_index = column::<UInt32Array>(batch, "transaction_index")?;
    let op_index = column::<UInt32Array>(batch, "operation_index")?;
    let closed = column::<TimestampSecondArray>(batch, "closed_at")?;
    let successful = column::<BooleanArray>(batch, "successful")?;
    let opt = |a: &StringArray, i: usize| (!a.is_null(i)).then(|| a.value(i).to_string());
    for i in 0..batch.num_rows() {
        let closed_at: SystemTime = UNIX_EPOCH + Duration::from_secs(closed.value(i).max(0) as u64);
        let amount = Numeric(amount.value(i).parse::<i128>().map_err(|_| {
            anyhow::anyhow!(
                "event {} has a non-integer amount {:?}",
                event_id.value(i),
                amount.value(i)
            )
        })?);
        let op = (!op_index.is_null(i)).then(|| op_index.value(i) as i32);
        let values: [&(dyn ToSql + Sync); 18] = [
            &event_id.value(i),
            &i64::from(ledger.value(i)),
            &closed_at,
            &tx_hash.value(i),
            &(tx_index.value(i) as i32),
            &op,
            &event_type.value(i),
            &opt(from, i),
            &opt(to, i),
            &opt(asset, i),
            &opt(asset_type, i),
            &opt(asset_code, i),
            &opt(asset_issuer, i),
            &amount,
            &contract.value(i),
            &opt(muxed_id, i),
            &opt(muxed_type, i),
            &successful.value(i),
        ];
        writer.as_mut().write(&values).await?;
    }
    Ok(batch.num_rows() as u64)
}

impl Output for PostgresOutput {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn cursor(&self) -> Option<u32> {
        self.cursor
    }

    fn write(&mut self, batch: &RecordBatch, meta: BatchMeta) -> anyhow::Result<()> {
        crate::schema::expect(
            batch.schema_ref(),
            crate::schema::ttp::NAME,
            crate::schema::ttp::VERSION,
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", self.name))?;
        self.pending_end = Some(meta.last_ledger);
        if batch.num_rows() > 0 {
            self.rows += batch.num_rows() as u64;
            self.pending.push(batch.clone());
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        self.rows >= self.batch_rows
    }

    fn pending(&self) -> bool {
        self.pending_end.is_some()
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        let Some(end) = self.pending_end else {
            return Ok(());
        };
        for attempt in 0..8 {
            let mut client = match self.client.take() {
                Some(c) if !c.is_closed() => c,
                _ => match self.runtime.block_on(connect(&self.url)) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(output = %self.name, error = %e, attempt, "PostgreSQL unreachable; retrying");
                        std::thread::sleep(COMMIT_BACKOFF.delay(attempt));
                        continue;
                    }
                },
            };
            let key = self.key();
            let result = self.runtime.block_on(Self::copy(
                &mut client,
                &self.table,
                &key,
                &self.pending,
                end,
            ));
            let lost = client.is_closed();
            self.client = Some(client);
            match result {
                Ok(rows) => {
                    self.rows_written += rows;
                    self.cursor = Some(end);
                    self.pending.clear();
                    self.pending_end = None;
                    self.rows = 0;
                    return Ok(());
                }
                Err(e)
                    if lost
                        || e.downcast_ref::<tokio_postgres::Error>()
                            .is_some_and(retryable) =>
                {
                    tracing::warn!(output = %self.name, error = %e, attempt, "PostgreSQL connection lost; retrying the transaction");
                    self.client = None;
                    std::thread::sleep(COMMIT_BACKOFF.delay(attempt));
                }
                Err(e) => {
                    let detail = match e
                        .downcast_ref::<tokio_postgres::Error>()
                        .and_then(|pg| pg.as_db_error())
                    {
                        Some(db) => db.message().to_string(),
                        None => format!("{e:#}"),
                    };
                    anyhow::bail!("{}: cannot write ledgers up to {end}: {detail}", self.name);
                }
            }
        }
        anyhow::bail!(
            "{}: PostgreSQL stayed unreachable; ledgers after {:?} are not written",
            self.name,
            self.cursor
        )
    }
}
