using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>One event in the RunEvents table: PartitionKey = run id, RowKey = seq as 10 digits.</summary>
public sealed class EventEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string Type { get; set; } = "";

    public DateTimeOffset OccurredAt { get; set; }

    public bool Redacted { get; set; }

    public string ValueJson { get; set; } = "{}";

    public static string RowKeyFor(long seq) => seq.ToString("D10", System.Globalization.CultureInfo.InvariantCulture);
}
