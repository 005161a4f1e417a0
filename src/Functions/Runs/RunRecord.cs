using System.Text.Json;
using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// A run's record: its state and the one place every race about it is decided. It is changed only through
/// <see cref="RunTransitions"/> and written only by <c>RunStore.ApplyAsync</c>, together with the events that the change
/// appends, in one conditional write.
/// </summary>
public sealed record RunRecord
{
    public required string TenantId { get; init; }

    public required string RunId { get; init; }

    public required string Status { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The run's <c>input</c>, as the client sent it.</summary>
    public required string InputJson { get; init; }

    public string? MetadataJson { get; init; }

    public required int SignalTimeoutSeconds { get; init; }

    /// <summary>The request the run waits on, while <see cref="Status"/> is awaiting_input.</summary>
    public PendingRequest? Pending { get; init; }

    /// <summary>The last accepted answer: a late timer finds it here, a retried signal is answered from it, and until the
    /// orchestration has consumed it, the repairer raises it again.</summary>
    public Answer? LastAnswer { get; init; }

    public string? OutputJson { get; init; }

    public RunError? Error { get; init; }

    /// <summary>The seq of the last event in the run's log. Events are appended only with the record, so this is the log's end.</summary>
    public long LastEventSeq { get; init; }

    /// <summary>How many of its numbered writes the orchestration has applied: a retried write is recognised and not applied twice.</summary>
    public int AppliedWrites { get; init; }

    public bool IsTerminal => RunStatus.IsTerminal(Status);
}

/// <summary>What a run waits for: stored with the run and shown as <c>pending_input</c> and in <c>run.awaiting_input</c>.</summary>
public sealed record PendingRequest(
    string RequestId,
    string InputKind,
    string Prompt,
    IReadOnlyList<string> AllowedActions,
    DateTimeOffset ExpiresAt,
    string? ProposedActionJson = null)
{
    public string ReasonCode => InputKinds.ReasonCodeFor(InputKind);

    /// <summary>The request as the API shows it. Built once, stored as it is, and parsed back with <see cref="FromJson"/>.</summary>
    public string ToJson() => JsonText.Object(w =>
    {
        w.WriteString("request_id", RequestId);
        w.WriteString("reason_code", ReasonCode);
        w.WriteString("input_kind", InputKind);
        w.WriteString("prompt", Prompt);
        w.WriteStrings("allowed_actions", AllowedActions);
        w.WriteTimestamp("expires_at", ExpiresAt);
        w.WriteRaw("proposed_action", ProposedActionJson);
    });

    public static PendingRequest FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var proposed = root.TryGetProperty("proposed_action", out var p) && p.ValueKind != JsonValueKind.Null ? p.GetRawText() : null;
        return new PendingRequest(
            root.GetProperty("request_id").GetString()!,
            root.GetProperty("input_kind").GetString()!,
            root.GetProperty("prompt").GetString()!,
            [.. root.GetProperty("allowed_actions").EnumerateArray().Select(a => a.GetString()!)],
            root.GetProperty("expires_at").GetDateTimeOffset(),
            proposed);
    }
}

/// <summary>An accepted answer to a request.</summary>
/// <param name="IdempotencyKey">The idempotency key of the request that answered, if it had one: its retry gets the same 202.</param>
/// <param name="PayloadJson">What the human sent (the run goes on with it); dropped once the orchestration has consumed the answer.</param>
public sealed record Answer(
    string RequestId,
    string Action,
    DateTimeOffset AcceptedAt,
    Actor? Actor,
    string? IdempotencyKey,
    string? PayloadJson,
    bool Consumed = false)
{
    public string ToJson() => JsonText.Object(w =>
    {
        w.WriteString("request_id", RequestId);
        w.WriteString("action", Action);
        w.WriteTimestamp("accepted_at", AcceptedAt);
        if (Actor is not null)
        {
            w.WriteStartObject("actor");
            w.WriteString("key_id", Actor.KeyId);
            w.WriteString("name", Actor.Name);
            w.WriteEndObject();
        }

        if (IdempotencyKey is not null)
        {
            w.WriteString("idempotency_key", IdempotencyKey);
        }

        w.WriteRaw("payload", PayloadJson);
        w.WriteBoolean("consumed", Consumed);
    });

    public static Answer FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Actor? actor = null;
        if (root.TryGetProperty("actor", out var a) && a.ValueKind == JsonValueKind.Object)
        {
            actor = new Actor(a.GetProperty("key_id").GetString()!, a.GetProperty("name").GetString()!);
        }

        return new Answer(
            root.GetProperty("request_id").GetString()!,
            root.GetProperty("action").GetString()!,
            root.GetProperty("accepted_at").GetDateTimeOffset(),
            actor,
            root.TryGetProperty("idempotency_key", out var k) ? k.GetString() : null,
            root.TryGetProperty("payload", out var p) && p.ValueKind != JsonValueKind.Null ? p.GetRawText() : null,
            root.TryGetProperty("consumed", out var c) && c.GetBoolean());
    }
}

/// <summary>An event as it is stored: numbered by the write that appended it.</summary>
public sealed record RunEvent(long Seq, string Type, DateTimeOffset Timestamp, bool Redacted, string ValueJson);
