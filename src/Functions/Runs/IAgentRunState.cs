using Azure.Data.Tables;

namespace AgentRuns.Functions.Runs;

/// <summary>
/// State an agent keeps for a run outside the Durable history (the model agent's conversation, an HTTP worker's step
/// decisions). It lives as long as the history it stands beside: <see cref="HistoryRetention"/> forgets it, then purges the
/// history, for each finished run past its retention. The run's record and events are never touched.
/// </summary>
public interface IAgentRunState
{
    /// <summary>Deletes everything kept for the run; idempotent (nothing kept is not an error).</summary>
    Task ForgetAsync(string runId, CancellationToken cancellationToken);
}

public static class AgentRunStateTables
{
    /// <summary>Deletes every row of a run's partition (one query for the keys, then a delete per row; a row already gone is fine).</summary>
    public static async Task<int> DeletePartitionAsync(TableClient table, string runId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        var keys = new List<string>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {runId}");
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
        {
            keys.Add(entity.RowKey);
        }

        foreach (var key in keys)
        {
            // A 404 is not an error for DeleteEntity: another pass got there first.
            await table.DeleteEntityAsync(runId, key, Azure.ETag.All, cancellationToken);
        }

        return keys.Count;
    }
}
