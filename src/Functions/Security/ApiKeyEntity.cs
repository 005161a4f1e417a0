using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Security;

/// <summary>An API key in the ApiKeys table: PartitionKey = "key", RowKey = SHA-256 of the key (hex). The key itself is never stored.</summary>
public sealed class ApiKeyEntity : ITableEntity
{
    public const string Partition = "key";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = "";

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string TenantId { get; set; } = "";

    public string Name { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
