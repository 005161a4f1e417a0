using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Http;

/// <summary>The one mapping from stored entities to API resources (the tenant never leaves the table).</summary>
public static class RunMapper
{
    public static RunResource ToResource(RunEntity run) => new(
        Id: run.RowKey,
        Object: "run",
        Status: run.Status,
        CreatedAt: run.CreatedAt,
        UpdatedAt: run.UpdatedAt,
        Input: ApiJson.ParseElement(run.InputJson),
        Metadata: ApiJson.ParseElementOrNull(run.MetadataJson),
        SignalTimeoutSeconds: run.SignalTimeoutSeconds,
        PendingInput: run.Status == RunStatus.AwaitingInput ? ApiJson.ParseElementOrNull(run.PendingInputJson) : null,
        Output: ApiJson.ParseElementOrNull(run.OutputJson),
        Error: ApiJson.ParseElementOrNull(run.ErrorJson),
        LastEventSeq: run.LastEventSeq);

    public static RunEventResource ToResource(EventEntity e) => new(
        Seq: long.Parse(e.RowKey, System.Globalization.CultureInfo.InvariantCulture),
        Type: e.Type,
        Timestamp: e.OccurredAt,
        Payload: new RunEventPayload(e.Redacted, ApiJson.ParseElement(e.ValueJson)));
}
