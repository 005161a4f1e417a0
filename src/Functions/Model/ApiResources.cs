using System.Text.Json;

namespace AgentRuns.Functions.Model;

/// <summary>A run as the API shows it.</summary>
public sealed record RunResource(
    string Id,
    string Object,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    JsonElement Input,
    JsonElement? Metadata,
    int SignalTimeoutSeconds,
    JsonElement? PendingInput,
    JsonElement? Output,
    JsonElement? Error,
    long LastEventSeq);

/// <summary>One entry of a run's event log.</summary>
public sealed record RunEventResource(long Seq, string Type, DateTimeOffset Timestamp, RunEventPayload Payload);

public sealed record RunEventPayload(bool Redacted, JsonElement Value);

/// <summary>The 202 body of an accepted signal.</summary>
public sealed record SignalAccepted(string RunId, string RequestId, string Action, string Status, DateTimeOffset AcceptedAt);

/// <summary>The 202 body of an accepted cancel.</summary>
public sealed record CancelAccepted(string RunId, string Object, string Status);

public sealed record RunList(string Object, IReadOnlyList<RunResource> Data, string? NextCursor);

public sealed record EventPage(string Object, IReadOnlyList<RunEventResource> Data, bool HasMore, long? NextAfterSeq);

/// <summary>What a run waits for: stored in the run record and shown as <c>pending_input</c>.</summary>
public sealed record PendingInput(
    string RequestId,
    string ReasonCode,
    string InputKind,
    string Prompt,
    IReadOnlyList<string> AllowedActions,
    DateTimeOffset ExpiresAt,
    JsonElement? ProposedAction);

/// <summary>Why a run failed or was cancelled: shown as the run's <c>error</c>.</summary>
public sealed record RunError(string ReasonCode, string? Reason);
