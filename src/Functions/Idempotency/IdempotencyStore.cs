using System.Net;
using System.Security.Cryptography;
using System.Text;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Idempotency;

/// <summary>A response as it is stored for replay: status, body, content type and the Location header if any.</summary>
public sealed record StoredResponse(int Status, string Body, string ContentType, string? Location);

/// <summary>What became of a request that carries an idempotency key.</summary>
public abstract record IdempotencyClaim
{
    /// <summary>This request owns the key: run it, then <see cref="IdempotencyStore.CompleteAsync"/> or <see cref="IdempotencyStore.ReleaseAsync"/>.</summary>
    public sealed record Owned(IdempotencyEntity Entity) : IdempotencyClaim;

    /// <summary>A request with the same key and body already completed: answer with its response.</summary>
    public sealed record Replay(StoredResponse Response) : IdempotencyClaim;
}

/// <summary>
/// Idempotency keys (Stripe's semantics, IETF Idempotency-Key draft): the first request with a key claims it with an
/// insert; retries replay its stored response; a different body is 422, a retry while the first is running 409.
/// </summary>
public sealed class IdempotencyStore(RunTables tables, IOptions<IdempotencyOptions> options, TimeProvider time)
{
    private readonly TableClient _table = tables.Idempotency;

    public static string Fingerprint(ReadOnlySpan<byte> canonicalBody) => Convert.ToHexStringLower(SHA256.HashData(canonicalBody));

    public static string RowKeyFor(string method, string path, string key) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{method.ToUpperInvariant()}\n{path}\n{key}")));

    public async Task<IdempotencyClaim> ClaimAsync(
        string tenantId, string method, string path, string key, string fingerprint, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var fresh = new IdempotencyEntity
        {
            PartitionKey = tenantId,
            RowKey = RowKeyFor(method, path, key),
            Fingerprint = fingerprint,
            CreatedAt = now,
            LockedUntil = now.AddSeconds(options.Value.LockSeconds),
            ExpiresAt = now.AddHours(options.Value.RetentionHours),
            ClaimId = Guid.NewGuid().ToString("N"),
        };

        while (true)
        {
            try
            {
                var added = await _table.AddEntityAsync(fresh.ToTableEntity(), cancellationToken);
                fresh.ETag = added.Headers.ETag ?? ETag.All;
                return new IdempotencyClaim.Owned(fresh);
            }
            catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
            {
            }

            var existing = await _table.GetEntityIfExistsAsync<TableEntity>(tenantId, fresh.RowKey, cancellationToken: cancellationToken);
            if (!existing.HasValue)
            {
                continue; // purged or released in between: claim again
            }

            var entity = IdempotencyEntity.FromTableEntity(existing.Value!);
            if (entity.ClaimId == fresh.ClaimId)
            {
                // Our own insert: its first try landed and the client retried it. The claim is ours.
                fresh.ETag = entity.ETag;
                return new IdempotencyClaim.Owned(fresh);
            }

            var expired = entity.ExpiresAt <= now;
            var sameBody = string.Equals(entity.Fingerprint, fingerprint, StringComparison.Ordinal);
            var released = !expired && (entity.Released || entity.State == IdempotencyEntity.ReleasedState);
            var abandoned = !expired && !released && entity.State == IdempotencyEntity.InFlight && entity.LockedUntil <= now;
            if (abandoned && !sameBody)
            {
                throw ApiException.IdempotencyKeyReused();
            }

            if (expired || abandoned || released)
            {
                // Expired, given back, or its owner died mid-request: take it over, unless someone else is doing the same. A
                // takeover of the same request (abandoned, or given back and sent again with the same body) keeps its CreatedAt,
                // so the retry derives the same resource ids (see IdempotencyEntity.CreatedAt) and finds what the earlier attempt
                // made, even one that failed after its write landed, instead of making it again.
                fresh.CreatedAt = abandoned || (released && sameBody) ? entity.CreatedAt : now;
                try
                {
                    var replaced = await _table.UpdateEntityAsync(fresh.ToTableEntity(), entity.ETag, TableUpdateMode.Replace, cancellationToken);
                    fresh.ETag = replaced.Headers.ETag ?? ETag.All;
                    return new IdempotencyClaim.Owned(fresh);
                }
                catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
                {
                    continue;
                }
            }

            if (!string.Equals(entity.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                throw ApiException.IdempotencyKeyReused();
            }

            if (entity.State == IdempotencyEntity.InFlight)
            {
                throw ApiException.IdempotencyKeyInUse(Math.Max(1, (int)Math.Ceiling((entity.LockedUntil - now).TotalSeconds)));
            }

            return new IdempotencyClaim.Replay(new StoredResponse(entity.StatusCode, entity.Body ?? "", entity.ContentType ?? "application/json", entity.Location));
        }
    }

    /// <summary>Stores the response for replay.</summary>
    public async Task CompleteAsync(IdempotencyEntity claim, StoredResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        ArgumentNullException.ThrowIfNull(response);
        claim.State = IdempotencyEntity.Done;
        claim.StatusCode = response.Status;
        claim.ContentType = response.ContentType;
        claim.Body = response.Body;
        claim.Location = response.Location;
        await _table.UpdateEntityAsync(claim.ToTableEntity(), claim.ETag, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>
    /// Gives the key up: the request did not run (invalid) or failed, so a retry may run it. The claim is kept, marked
    /// <see cref="IdempotencyEntity.Released"/> (to a version that does not know the flag, an in-flight claim whose lock has
    /// lapsed), rather than deleted: a failure may come after the request's write landed (the storage client gave up on a
    /// response that was lost), and a retry with the same body must derive the same ids to find it.
    /// </summary>
    public async Task ReleaseAsync(IdempotencyEntity claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        claim.State = IdempotencyEntity.InFlight;
        claim.Released = true;
        claim.LockedUntil = time.GetUtcNow();
        try
        {
            await _table.UpdateEntityAsync(claim.ToTableEntity(), claim.ETag, TableUpdateMode.Replace, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.NotFound or (int)HttpStatusCode.PreconditionFailed)
        {
        }
    }

    /// <summary>Deletes expired keys; returns how many.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var filter = TableClient.CreateQueryFilter($"ExpiresAt lt {now}");
        var deleted = 0;
        await foreach (var page in _table.QueryAsync<IdempotencyEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).AsPages())
        {
            foreach (var partition in page.Values.GroupBy(e => e.PartitionKey))
            {
                foreach (var batch in partition.Chunk(100))
                {
                    await _table.SubmitTransactionAsync(
                        batch.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All)), cancellationToken);
                    deleted += batch.Length;
                }
            }
        }

        return deleted;
    }
}
