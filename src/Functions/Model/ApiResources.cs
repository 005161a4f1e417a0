namespace AgentRuns.Functions.Model;

// The API's resources: what clients receive. Stored JSON travels as RawJson, so it comes back exactly as it was sent.

/// <summary>A run as the API shows it.</summary>
public sealed record RunResource(
    string Id,
    string Object,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    RawJson Input,
    RawJson? Metadata,
    string Agent,
    int SignalTimeoutSeconds,
    RawJson? PendingInput,
    RawJson? Output,
    RawJson? Error,
    long LastEventSeq,
    RawJson? LastAnswer);

/// <summary>One entry of a run's event log.</summary>
public sealed record RunEventResource(long Seq, string Type, DateTimeOffset Timestamp, RunEventPayload Payload);

public sealed record RunEventPayload(bool Redacted, RawJson Value);

/// <summary>The 202 body of an accepted signal.</summary>
public sealed record SignalAccepted(string RunId, string RequestId, string Action, string Status, DateTimeOffset AcceptedAt, Actor? Actor);

/// <summary>The 200 body of a moved deadline.</summary>
public sealed record RequestExtended(string Object, string RunId, string RequestId, DateTimeOffset ExpiresAt, DateTimeOffset PreviousExpiresAt);

/// <summary>A page of the tenant's pending requests.</summary>
public sealed record RequestList(string Object, IReadOnlyList<RawJson> Data, string? NextCursor);

/// <summary>The 202 body of an accepted cancel.</summary>
public sealed record CancelAccepted(string RunId, string Object, string Status);

public sealed record RunList(string Object, IReadOnlyList<RunResource> Data, string? NextCursor);

public sealed record EventPage(string Object, IReadOnlyList<RunEventResource> Data, bool HasMore, long? NextAfterSeq);

/// <summary>Why a run failed or was cancelled: shown as the run's <c>error</c>.</summary>
public sealed record RunError(string ReasonCode, string? Reason);
