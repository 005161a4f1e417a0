using System.Net;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>An email the sample <c>send_email</c> tool put in the outbox.</summary>
public sealed record OutboxEmail(string TenantId, string RunId, string ToolCallId, string To, string Subject, string Body, DateTimeOffset QueuedAt);

/// <summary>
/// Where the sample <c>send_email</c> tool "sends" mail (table EmailOutbox, one partition per tenant, RowKey
/// <c>{run id}|{hash of the tool call id}</c>): a real deployment would hand these rows to a mail service. One row per tool call,
/// so a step that runs the tool again (a retried activity) finds the row it wrote and sends nothing twice.
/// </summary>
public sealed class EmailOutbox(RunTables tables, TimeProvider time)
{
    private readonly TableClient _table = tables.EmailOutbox;

    /// <summary>Queues the email of this tool call; false when this call had queued it already (nothing is queued again).</summary>
    public async Task<(OutboxEmail Email, bool Queued)> QueueAsync(
        string tenantId, string runId, string toolCallId, string to, string subject, string body, CancellationToken cancellationToken)
    {
        var key = RowKey(runId, toolCallId);
        var attempt = Guid.NewGuid().ToString("N");
        var entity = new TableEntity(tenantId, key)
        {
            ["Attempt"] = attempt,
            ["RunId"] = runId,
            ["ToolCallId"] = toolCallId,
            ["To"] = to,
            ["Subject"] = subject,
            ["QueuedAt"] = time.GetUtcNow(),
        };
        LargeText.Write(entity, "Body", body);
        try
        {
            await _table.AddEntityAsync(entity, cancellationToken);
            return (ToEmail(entity), true);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            // Queued by an earlier run of the tool for this call, or by this very insert: its first try landed while its
            // response was lost, and the storage client sent it again (then it is this call that queued it).
            var stored = await _table.GetEntityAsync<TableEntity>(tenantId, key, cancellationToken: cancellationToken);
            return (ToEmail(stored.Value), string.Equals(stored.Value.GetString("Attempt"), attempt, StringComparison.Ordinal));
        }
    }

    /// <summary>The emails a run queued, oldest first.</summary>
    public async Task<IReadOnlyList<OutboxEmail>> ListAsync(string tenantId, string runId, CancellationToken cancellationToken = default)
    {
        var emails = new List<OutboxEmail>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenantId} and RowKey ge {runId + "|"} and RowKey lt {runId + "}"}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            emails.Add(ToEmail(entity));
        }

        return [.. emails.OrderBy(e => e.QueuedAt)];
    }

    /// <summary>Tool call ids are the model's: hashed, so any characters fit in a row key.</summary>
    private static string RowKey(string runId, string toolCallId) =>
        $"{runId}|{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(toolCallId)))[..32]}";

    private static OutboxEmail ToEmail(TableEntity e) => new(
        e.PartitionKey, e.GetString("RunId"), e.GetString("ToolCallId"), e.GetString("To"), e.GetString("Subject"),
        LargeText.Read(e, "Body") ?? "", e.GetDateTimeOffset("QueuedAt")!.Value);
}
