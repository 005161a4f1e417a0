using AgentRuns.Functions.Storage;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Idempotency;

/// <summary>
/// One idempotency key in the Idempotency table: PartitionKey = tenant, RowKey = SHA-256 of (method, path, key).
/// Holds the request's fingerprint and, once done, the response to replay.
/// </summary>
public sealed class IdempotencyEntity : ITableEntity
{
    public const string InFlight = "in_flight";
    public const string Done = "done";

    /// <summary>
    /// A state written by a version of the service that marked a given-back claim in <see cref="State"/>; now such a claim is
    /// <see cref="InFlight"/> with its lock lapsed and <see cref="Released"/> set (see there). Still read as given back.
    /// </summary>
    public const string ReleasedState = "released";

    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string State { get; set; } = InFlight;

    /// <summary>SHA-256 of the request body (minified JSON).</summary>
    public string Fingerprint { get; set; } = "";

    /// <summary>An in-flight claim older than this is taken to be abandoned (its process died) and can be taken over.</summary>
    public DateTimeOffset LockedUntil { get; set; }

    /// <summary>
    /// When the key was first claimed. With the RowKey it seeds the ids of what the request creates, so that a retry that
    /// takes over an abandoned claim creates the same run, which already exists, rather than a second one.
    /// </summary>
    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>
    /// Who made this claim: a retried insert whose first try landed (the response was lost) finds its own claim by this and
    /// owns it, instead of taking it for another request's.
    /// </summary>
    public string ClaimId { get; set; } = "";

    public int StatusCode { get; set; }

    public string? ContentType { get; set; }

    public string? Body { get; set; }

    public string? Location { get; set; }

    /// <summary>
    /// Given back by a request that failed (invalid, or storage out): the next request with the key claims it at once. A retry
    /// with the same body keeps <see cref="CreatedAt"/> (the failed attempt may have done its work before it failed, and the
    /// retry must find that work); another body (a corrected request) is a new request. Stored as an in-flight claim whose lock
    /// has lapsed plus this flag, so that a version that knows only in_flight and done (one rolled back to, or still serving
    /// during a deployment) takes it for an abandoned claim and takes it over, rather than replaying it as a stored response
    /// with no status and no body.
    /// </summary>
    public bool Released { get; set; }

    /// <summary>As stored: the response body may be longer than one table property holds (see <see cref="LargeText"/>).</summary>
    public TableEntity ToTableEntity()
    {
        var entity = new TableEntity(PartitionKey, RowKey)
        {
            ["State"] = State,
            ["Fingerprint"] = Fingerprint,
            ["LockedUntil"] = LockedUntil,
            ["CreatedAt"] = CreatedAt,
            ["ExpiresAt"] = ExpiresAt,
            ["ClaimId"] = ClaimId,
            ["StatusCode"] = StatusCode,
            ["ContentType"] = ContentType,
            ["Location"] = Location,
            ["Released"] = Released,
            ETag = ETag,
        };
        LargeText.Write(entity, "Body", Body);
        return entity;
    }

    public static IdempotencyEntity FromTableEntity(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return new IdempotencyEntity
        {
            PartitionKey = entity.PartitionKey,
            RowKey = entity.RowKey,
            ETag = entity.ETag,
            Timestamp = entity.Timestamp,
            State = entity.GetString("State") ?? InFlight,
            Fingerprint = entity.GetString("Fingerprint") ?? "",
            LockedUntil = entity.GetDateTimeOffset("LockedUntil") ?? default,
            CreatedAt = entity.GetDateTimeOffset("CreatedAt") ?? default,
            ExpiresAt = entity.GetDateTimeOffset("ExpiresAt") ?? default,
            ClaimId = entity.GetString("ClaimId") ?? "",
            StatusCode = entity.GetInt32("StatusCode") ?? 0,
            ContentType = entity.GetString("ContentType"),
            Location = entity.GetString("Location"),
            Released = entity.GetBoolean("Released") ?? false,
            Body = LargeText.Read(entity, "Body"),
        };
    }
}
