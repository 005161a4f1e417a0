using Azure.Data.Tables;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>
/// Reads an orchestration's history from the Durable Task Framework's Azure Storage tables (<c>{hub}History</c>,
/// PartitionKey = instance id, an <c>EventType</c> per row).
/// </summary>
public static class DurableHistory
{
    /// <summary>
    /// Waits until the orchestration has checkpointed a wait: no activity outstanding and a timer pending. A checkpoint
    /// sends its messages before it appends the history, so from then on nothing of the instance is in flight. A host
    /// killed earlier, mid-episode, leaves the message it was processing invisible in the control queue for the
    /// visibility timeout (5 minutes), and the run resumes only after that.
    /// </summary>
    public static Task WaitUntilWaitingAsync(string hubName, string instanceId) =>
        Eventually.GetAsync(
            () => EventTypesAsync(hubName, instanceId),
            types => Count(types, "TimerCreated") > Count(types, "TimerFired")
                && Count(types, "TaskScheduled") == Count(types, "TaskCompleted") + Count(types, "TaskFailed"),
            TimeSpan.FromSeconds(30),
            $"{instanceId} to checkpoint its wait");

    /// <summary>Waits until the orchestration's history holds at least <paramref name="count"/> failed activities (each attempt of a retried one counts).</summary>
    public static Task WaitForFailedTasksAsync(string hubName, string instanceId, int count, TimeSpan timeout) =>
        Eventually.GetAsync(
            () => EventTypesAsync(hubName, instanceId), types => Count(types, "TaskFailed") >= count, timeout, $"{count} failed activities of {instanceId}");

    private static async Task<List<string>> EventTypesAsync(string hubName, string instanceId)
    {
        var table = new TableClient(Azurite.ConnectionString, hubName + "History");
        var types = new List<string>();
        await foreach (var row in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {instanceId}"), select: ["EventType"]))
        {
            if (row.GetString("EventType") is { } type)
            {
                types.Add(type);
            }
        }

        return types;
    }

    private static int Count(List<string> types, string type) => types.Count(t => t == type);
}
