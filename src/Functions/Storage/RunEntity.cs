using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// A run record in the Runs table: PartitionKey = tenant, RowKey = run id. JSON-valued columns hold the
/// API's JSON text. Its ETag is the arbiter of every race (signal vs signal, signal vs timeout, cancel vs finish).
/// </summary>
public sealed class RunEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string Status { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public string InputJson { get; set; } = "{}";

    public string? MetadataJson { get; set; }

    public int SignalTimeoutSeconds { get; set; }

    /// <summary>The request the run waits on, while <see cref="Status"/> is awaiting_input.</summary>
    public string? PendingRequestId { get; set; }

    /// <summary>The <c>pending_input</c> object, as JSON.</summary>
    public string? PendingInputJson { get; set; }

    /// <summary>The last request a signal was accepted for: a timer that loses the race finds its answer here.</summary>
    public string? AnsweredRequestId { get; set; }

    /// <summary>The accepted signal for <see cref="AnsweredRequestId"/> until the run has recorded it.</summary>
    public string? AcceptedSignalJson { get; set; }

    public bool CancelRequested { get; set; }

    public string? OutputJson { get; set; }

    public string? ErrorJson { get; set; }

    /// <summary>The seq of the last event the run's projection reflects; projection writes only move it forward.</summary>
    public long LastEventSeq { get; set; }
}
