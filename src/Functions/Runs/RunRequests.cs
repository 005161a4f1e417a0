namespace AgentRuns.Functions.Runs;

/// <summary>A validated request to create a run.</summary>
/// <param name="Agent">The agent asked for, or null for the default.</param>
public sealed record CreateRunRequest(string InputJson, string? MetadataJson, int? SignalTimeoutSeconds, string? Agent = null);

/// <summary>A validated signal: a human's answer to the pending request.</summary>
public sealed record SignalRequest(string Action, string? PayloadJson, string? RequestId);

/// <summary>A validated request to move a pending request's deadline: to a time, or by some seconds.</summary>
public sealed record ExtendRequest(DateTimeOffset? ExpiresAt, int? ExtendBySeconds);

/// <summary>What stays the same across the retries of one idempotent request, even one that takes over from an attempt that died.</summary>
/// <param name="Key">Identifies the request (tenant, method, path, key) without being the key.</param>
/// <param name="CreatedAt">When the key was first claimed.</param>
public sealed record IdempotencySeed(string Key, DateTimeOffset CreatedAt);
