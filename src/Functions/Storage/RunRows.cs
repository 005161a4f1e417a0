using System.Globalization;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// How a tenant's runs are laid out in the Runs table. Everything of a tenant lives in its partition (PartitionKey = tenant),
/// so a run's record and the events a change appends are written in one entity-group transaction:
/// <list type="bullet">
/// <item><c>r|{run id}</c>: the run record (run ids sort newest first, so the tenant's runs list is one range scan);</item>
/// <item><c>e|{run id}|{seq, 10 digits}</c>: the run's events, read in order by a range scan;</item>
/// <item><c>q|{deadline, ticks}|{run id}|{request id}</c>: the tenant's inbox, a row per pending request, soonest deadline first,
/// written and removed in the same transaction as the change that opens, moves or closes the request.</item>
/// </list>
/// The one mapping between <see cref="RunRecord"/> / <see cref="RunEvent"/> and table entities.
/// </summary>
public static class RunRows
{
    public const string RecordPrefix = "r|";
    public const string EventPrefix = "e|";
    public const string InboxPrefix = "q|";

    /// <summary>Sorts after every key of the same prefix (run ids and seqs use only letters, digits and '_').</summary>
    public const string End = "~";

    /// <summary>Table Storage's limit on one entity.</summary>
    private const long MaxEntityBytes = LargeText.MaxEntityBytes;

    public static string RecordKey(string runId) => RecordPrefix + runId;

    public static string EventKey(string runId, long seq) => $"{EventPrefix}{runId}|{seq.ToString("D10", CultureInfo.InvariantCulture)}";

    public static string InboxKey(string runId, PendingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return $"{InboxPrefix}{request.ExpiresAt.UtcTicks.ToString("D19", CultureInfo.InvariantCulture)}|{runId}|{request.RequestId}";
    }

    /// <summary>The inbox row of a pending request: enough to list it without reading the run.</summary>
    public static TableEntity ToInboxEntity(string tenantId, string runId, DateTimeOffset runCreatedAt, PendingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var entity = new TableEntity(tenantId, InboxKey(runId, request))
        {
            ["RunId"] = runId,
            ["RequestId"] = request.RequestId,
            ["ExpiresAt"] = request.ExpiresAt,
            ["RunCreatedAt"] = runCreatedAt,
        };
        LargeText.Write(entity, "PendingJson", request.ToJson());
        return CheckSize(entity);
    }

    public static (string RunId, PendingRequest Request) ToInboxItem(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return (entity.GetString("RunId"), PendingRequest.FromJson(LargeText.Read(entity, "PendingJson")!));
    }

    /// <summary>The seq of an event row, from its key.</summary>
    public static long SeqOf(string eventRowKey)
    {
        ArgumentNullException.ThrowIfNull(eventRowKey);
        return long.Parse(eventRowKey.AsSpan(eventRowKey.LastIndexOf('|') + 1), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public static TableEntity ToEntity(RunRecord run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var entity = new TableEntity(run.TenantId, RecordKey(run.RunId))
        {
            ["Status"] = run.Status,
            ["CreatedAt"] = run.CreatedAt,
            ["UpdatedAt"] = run.UpdatedAt,
            ["SignalTimeoutSeconds"] = run.SignalTimeoutSeconds,
            ["Agent"] = run.Agent,
            ["LastEventSeq"] = run.LastEventSeq,
            ["AppliedWrites"] = run.AppliedWrites,
            ["RemindersSent"] = string.Join(',', run.RemindersSent.Select(r => r.ToString(CultureInfo.InvariantCulture))),
            ["InboxKey"] = run.InboxKey,
            ["CancelAttempt"] = run.CancelAttempt,
            ["ExtendsRequestId"] = run.Extends?.RequestId,
            ["Extends"] = run.Extends?.MarksText(),
        };
        LargeText.Write(entity, "InputJson", run.InputJson);
        LargeText.Write(entity, "MetadataJson", run.MetadataJson);
        if (run.Pending is { } pending)
        {
            entity["PendingRequestId"] = pending.RequestId;
            entity["PendingExpiresAt"] = pending.ExpiresAt;
            LargeText.Write(entity, "PendingJson", pending.ToJson());
        }

        LargeText.Write(entity, "LastAnswerJson", run.LastAnswer?.ToJson());
        LargeText.Write(entity, "OutputJson", run.OutputJson);
        LargeText.Write(entity, "ErrorJson", run.Error is null ? null : RunEventValues.ErrorJson(run.Error));
        return CheckSize(entity);
    }

    public static RunRecord ToRecord(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var pending = LargeText.Read(entity, "PendingJson");
        var answer = LargeText.Read(entity, "LastAnswerJson");
        var error = LargeText.Read(entity, "ErrorJson");
        return new RunRecord
        {
            TenantId = entity.PartitionKey,
            RunId = entity.RowKey[RecordPrefix.Length..],
            Status = entity.GetString("Status"),
            CreatedAt = entity.GetDateTimeOffset("CreatedAt")!.Value,
            UpdatedAt = entity.GetDateTimeOffset("UpdatedAt")!.Value,
            InputJson = LargeText.Read(entity, "InputJson") ?? "{}",
            MetadataJson = LargeText.Read(entity, "MetadataJson"),
            SignalTimeoutSeconds = entity.GetInt32("SignalTimeoutSeconds") ?? 0,
            Agent = entity.GetString("Agent") ?? Agents.AgentNames.Scripted,
            Pending = pending is null ? null : PendingRequest.FromJson(pending),
            LastAnswer = answer is null ? null : Answer.FromJson(answer),
            OutputJson = LargeText.Read(entity, "OutputJson"),
            Error = error is null ? null : new RunError(JsonText.StringMember(error, "reason_code")!, JsonText.StringMember(error, "reason")),
            LastEventSeq = entity.GetInt64("LastEventSeq") ?? 0,
            AppliedWrites = entity.GetInt32("AppliedWrites") ?? 0,
            RemindersSent = entity.GetString("RemindersSent") is { Length: > 0 } sent
                ? [.. sent.Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture))]
                : [],
            InboxKey = entity.GetString("InboxKey"),
            CancelAttempt = entity.GetString("CancelAttempt"),
            Extends = ReadExtends(entity),
        };
    }

    /// <summary>
    /// The extends of the run's latest request. A row written before every extend was kept has the last one only
    /// (<c>ExtendAttempt</c>, <c>ExtendedFrom</c>): it moved the pending request's deadline to where it is, so it reads as that
    /// request's one known extend; the row's next write stores it the new way.
    /// </summary>
    private static ExtendLog? ReadExtends(TableEntity entity)
    {
        if (entity.GetString("ExtendsRequestId") is { } requestId)
        {
            return ExtendLog.FromText(requestId, entity.GetString("Extends") ?? "");
        }

        return entity.GetString("ExtendAttempt") is { } attempt && entity.GetDateTimeOffset("ExtendedFrom") is { } from
               && LargeText.Read(entity, "PendingJson") is { } pending && PendingRequest.FromJson(pending) is var request
            ? new ExtendLog(request.RequestId, [new ExtendMark(ExtendLog.Hash(attempt), from, request.ExpiresAt)])
            : null;
    }

    public static TableEntity ToEntity(string tenantId, string runId, RunEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var entity = new TableEntity(tenantId, EventKey(runId, e.Seq))
        {
            ["Type"] = e.Type,
            ["OccurredAt"] = e.Timestamp,
            ["Redacted"] = e.Redacted,
        };
        LargeText.Write(entity, "ValueJson", e.ValueJson);
        return CheckSize(entity);
    }

    public static RunEvent ToEvent(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return new RunEvent(
            SeqOf(entity.RowKey),
            entity.GetString("Type"),
            entity.GetDateTimeOffset("OccurredAt")!.Value,
            entity.GetBoolean("Redacted") ?? false,
            LargeText.Read(entity, "ValueJson") ?? "{}");
    }

    private static TableEntity CheckSize(TableEntity entity)
    {
        var size = LargeText.EstimateSize(entity);
        return size <= MaxEntityBytes
            ? entity
            : throw new InvalidOperationException($"Entity {entity.RowKey} would hold ~{size} bytes; Table Storage holds at most {MaxEntityBytes}.");
    }
}
