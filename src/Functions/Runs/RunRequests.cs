namespace AgentRuns.Functions.Runs;

/// <summary>A validated request to create a run.</summary>
/// <param name="Agent">The agent asked for, or null for the default.</param>
public sealed record CreateRunRequest(string InputJson, string? MetadataJson, int? SignalTimeoutSeconds, string? Agent = null);

/// <summary>A validated signal: a human's answer to the pending request.</summary>
public sealed record SignalRequest(string Action, string? PayloadJson, string? RequestId);

/// <summary>A validated request to move a pending request's deadline: to a time, or by some seconds.</summary>
public sealed record ExtendRequest(DateTimeOffset? ExpiresAt, int? ExtendBySeconds);

/// <summary>What stays the same across the retries of one idempotent request, even one that takes over from an attempt that died.</summary>
/// <param name="Key">Identifies the key (tenant, method, path, key) without being the key.</param>
/// <param name="CreatedAt">When the key was first claimed: kept by a takeover of an attempt that died, new once the key's
/// record expired (a key used again after its retention is a new request).</param>
public sealed record IdempotencySeed(string Key, DateTimeOffset CreatedAt)
{
    /// <summary>
    /// Names this request: the key and when it was claimed (to the millisecond, which storage keeps). What a request records to
    /// find its own effect again (a signal's answer, a cancel, an extend, the creator of a worker, a webhook's id) is named by
    /// this, not by the key alone, so that the same key used after its retention is not mistaken for the request it made before.
    /// </summary>
    public string Id => $"{Key}@{CreatedAt.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}
