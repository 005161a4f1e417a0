using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

/// <summary>The one mapping from run records and events to API resources (the tenant never leaves the table).</summary>
public static class RunMapper
{
    public static RunResource ToResource(RunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new RunResource(
            Id: run.RunId,
            Object: "run",
            Status: run.Status,
            CreatedAt: run.CreatedAt,
            UpdatedAt: run.UpdatedAt,
            Input: new RawJson(run.InputJson),
            Metadata: RawJson.OrNull(run.MetadataJson),
            Agent: run.Agent,
            SignalTimeoutSeconds: run.SignalTimeoutSeconds,
            PendingInput: run.Status == RunStatus.AwaitingInput && run.Pending is { } pending ? new RawJson(pending.ToJson()) : null,
            Output: RawJson.OrNull(run.OutputJson),
            Error: run.Error is null ? null : new RawJson(RunEventValues.ErrorJson(run.Error)),
            LastEventSeq: run.LastEventSeq,
            LastAnswer: run.LastAnswer is { } answer ? new RawJson(LastAnswer(answer)) : null);
    }

    /// <summary>Who answered the run's last request, how and when (not what: the payload is in the log, masked).</summary>
    public static string LastAnswer(Answer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return JsonText.Object(w =>
        {
            w.WriteString("request_id", answer.RequestId);
            w.WriteString("action", answer.Action);
            w.WriteTimestamp("accepted_at", answer.AcceptedAt);
            if (answer.Actor is { } actor)
            {
                w.WriteStartObject("actor");
                w.WriteString("key_id", actor.KeyId);
                w.WriteString("name", actor.Name);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("actor");
            }
        });
    }

    public static RunEventResource ToResource(RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new RunEventResource(e.Seq, e.Type, e.Timestamp, new RunEventPayload(e.Redacted, new RawJson(e.ValueJson)));
    }
}
