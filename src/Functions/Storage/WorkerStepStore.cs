using System.Globalization;
using System.Net;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// What each step of a run with an HTTP worker decided (table WorkerSteps, one partition per run, one row per step index), as the
/// worker agent returned it (secrets masked). A step's decision is stored before it is returned, so a retried step returns it
/// again instead of calling the worker a second time, and two attempts of a step that raced return the same decision.
/// </summary>
public sealed class WorkerStepStore(RunTables tables) : Runs.IAgentRunState
{
    private readonly TableClient _table = tables.WorkerSteps;

    public async Task<string?> GetAsync(string runId, int step, CancellationToken cancellationToken)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(runId, Key(step), cancellationToken: cancellationToken);
        return response.HasValue ? LargeText.Read(response.Value!, "DecisionJson") : null;
    }

    /// <summary>Stores a step's decision; returns the one stored for that step (another attempt's, if it got there first).</summary>
    public async Task<string> SaveAsync(string runId, int step, string decisionJson, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(runId, Key(step)) { ["Step"] = step };
        LargeText.Write(entity, "DecisionJson", decisionJson);
        try
        {
            await _table.AddEntityAsync(entity, cancellationToken);
            return decisionJson;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var stored = await _table.GetEntityAsync<TableEntity>(runId, entity.RowKey, cancellationToken: cancellationToken);
            return LargeText.Read(stored.Value, "DecisionJson")!;
        }
    }

    public Task ForgetAsync(string runId, CancellationToken cancellationToken) =>
        Runs.AgentRunStateTables.DeletePartitionAsync(_table, runId, cancellationToken);

    private static string Key(int step) => step.ToString("D6", CultureInfo.InvariantCulture);
}
