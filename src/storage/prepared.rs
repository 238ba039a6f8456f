//! Statements of constant text that diesel keeps prepared on each PostgreSQL connection.
//! `diesel::sql_query` never is, so PostgreSQL parsed the save path's three statements on
//! every batch (3 % of the machine in the `rooms` benchmark, with its many small batches).
//! Prepared once per connection, each is parsed once; the session's forced custom plans
//! (`storage::conn`) still plan it on every call.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// SQL text in pieces with a parameter between each two (`$1`, `$2`, … are written by
/// diesel); load the rows with a `QueryableByName` type, as with `sql_query`.
pub struct Prepared<'a> {
    pieces: &'static [&'static str],
    params: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

impl<'a> Prepared<'a> {
    pub fn new(pieces: &'static [&'static str]) -> Self {
        Self {
            pieces,
            params: Vec::with_capacity(pieces.len().saturating_sub(1)),
        }
    }

    /// The next parameter, of SQL type `ST`.
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        Pg: HasSqlType<ST>,
        T: ToSql<ST, Pg> + Send + 'a,
        ST: 'a,
    {
        self.params
            .push(Box::new(Param::<ST, T>(value, PhantomData)));
        self
    }
}

struct Param<ST, T>(T, PhantomData<fn() -> ST>);

impl<ST, T> QueryFragment<Pg> for Param<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.0)
    }
}

impl QueryFragment<Pg> for Prepared<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if self.pieces.len() != self.params.len() + 1 {
            return Err(diesel::result::Error::QueryBuilderError(
                "a prepared statement's pieces and parameters do not match".into(),
            ));
        }
        for (i, piece) in self.pieces.iter().enumerate() {
            out.push_sql(piece);
            if let Some(param) = self.params.get(i) {
                param.walk_ast(out.reborrow())?;
            }
        }
        Ok(())
    }
}

impl QueryId for Prepared<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Prepared<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for Prepared<'_> {}
