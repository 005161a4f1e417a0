using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;

namespace AgentRuns.Functions.Storage;

/// <summary>A tool call the model asked for: its id (the model's), the tool and the arguments as JSON text.</summary>
/// <param name="ArgumentsError">Why the model's arguments could not be read (not JSON, nested too deep), or null.</param>
/// <param name="NameError">Why the name the model gave is not a tool name (then <paramref name="Name"/> is a stand-in), or null.</param>
public sealed record ModelToolCall(string Id, string Name, string ArgumentsJson, string? ArgumentsError = null, string? NameError = null);

/// <summary>
/// One message of a model agent's conversation, as stored. <see cref="Step"/> is the run's step that wrote it.
/// </summary>
/// <param name="Role"><see cref="ConversationRoles"/>.</param>
/// <param name="Text">The goal (user) or what the model said (assistant).</param>
/// <param name="ToolCalls">An assistant message's tool calls, in the model's order.</param>
/// <param name="DroppedToolCalls">An assistant message: tool calls past the per-turn limit, left out.</param>
/// <param name="ToolCallId">A tool message: the call it answers.</param>
/// <param name="ArgumentsJson">A tool message: the arguments the tool ran with (the human's, if edited).</param>
/// <param name="ResultJson">A tool message: the tool's result (or the human's answer), as JSON text.</param>
/// <param name="AnswerIndex">A tool message that a human's answer produced: which answer of the run (0 for the first).</param>
/// <param name="IsError">A tool message that tells the model its call failed (unknown tool, bad arguments).</param>
public sealed record ConversationEntry(
    int Index,
    int Step,
    string Role,
    string? Text = null,
    IReadOnlyList<ModelToolCall>? ToolCalls = null,
    int DroppedToolCalls = 0,
    string? ToolCallId = null,
    string? ToolName = null,
    string? ArgumentsJson = null,
    string? ResultJson = null,
    int? AnswerIndex = null,
    bool IsError = false);

public static class ConversationRoles
{
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string Tool = "tool";
}

/// <summary>A run's conversation so far and the decisions of its completed steps (as JSON).</summary>
public sealed record ModelConversation(IReadOnlyList<ConversationEntry> Entries, IReadOnlyDictionary<int, string> Decisions);

/// <summary>Another attempt of the same step wrote the conversation meanwhile; the step is retried on what it wrote.</summary>
public sealed class ConversationConflictException(string message) : Exception(message);

/// <summary>
/// A message or decision larger than a table entity holds (<see cref="LargeText.MaxEntityBytes"/>): nothing was written, and no
/// retry would write it. <see cref="Bytes"/> is its size as stored.
/// </summary>
public sealed class ConversationTooLargeException(string message, long bytes) : Exception(message)
{
    public long Bytes { get; } = bytes;
}

/// <summary>
/// The model agent's conversations (table ModelTurns, one partition per run): <c>c|{index}</c> rows hold the messages in order
/// (the goal, each model response, each tool result), <c>s|{step}</c> rows the decision each completed step returned. Every
/// message is stored as soon as it exists, before anything acts on it, and a step's decision before it is returned: a retried
/// step reads what an earlier attempt stored and carries on from there (it never asks the model again for a response it has,
/// nor returns a different decision for a step that completed). A message or decision larger than a table entity holds is refused
/// before it is sent (<see cref="ConversationTooLargeException"/>): no retry could store it.
/// </summary>
public sealed class ModelConversationStore(RunTables tables) : Runs.IAgentRunState
{
    private const string EntryPrefix = "c|";
    private const string DecisionPrefix = "s|";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = Model.ApiJson.Encoder,
    };

    private readonly TableClient _table = tables.ModelTurns;

    public Task ForgetAsync(string runId, CancellationToken cancellationToken) =>
        Runs.AgentRunStateTables.DeletePartitionAsync(_table, runId, cancellationToken);

    public async Task<ModelConversation> LoadAsync(string runId, CancellationToken cancellationToken)
    {
        var entries = new List<ConversationEntry>();
        var decisions = new Dictionary<int, string>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {runId}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            if (entity.RowKey.StartsWith(EntryPrefix, StringComparison.Ordinal))
            {
                entries.Add(JsonSerializer.Deserialize<ConversationEntry>(LargeText.Read(entity, "EntryJson")!, Json)!);
            }
            else if (entity.RowKey.StartsWith(DecisionPrefix, StringComparison.Ordinal))
            {
                decisions[entity.GetInt32("Step")!.Value] = LargeText.Read(entity, "DecisionJson")!;
            }
        }

        entries.Sort((a, b) => a.Index.CompareTo(b.Index));
        return new ModelConversation(entries, decisions);
    }

    /// <summary>
    /// Stores the next message. A message already stored at its index by this attempt (a storage retry whose first response was
    /// lost) counts as stored; a different one means another attempt of the step got there first.
    /// </summary>
    public async Task AppendAsync(string runId, ConversationEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var json = JsonSerializer.Serialize(entry, Json);
        var entity = new TableEntity(runId, EntryPrefix + entry.Index.ToString("D6", CultureInfo.InvariantCulture))
        {
            ["Step"] = entry.Step,
            ["Role"] = entry.Role,
        };
        LargeText.Write(entity, "EntryJson", json);
        ThrowIfTooLarge(entity, $"Message {entry.Index} of run {runId}");
        try
        {
            await _table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var stored = await _table.GetEntityAsync<TableEntity>(runId, entity.RowKey, cancellationToken: cancellationToken);
            if (!string.Equals(LargeText.Read(stored.Value, "EntryJson"), json, StringComparison.Ordinal))
            {
                throw new ConversationConflictException($"Run {runId}: message {entry.Index} was written by another attempt of step {entry.Step}.");
            }
        }
    }

    /// <summary>Stores a step's decision; returns the one stored for that step (another attempt's, if it got there first).</summary>
    public async Task<string> SaveDecisionAsync(string runId, int step, string decisionJson, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(runId, DecisionPrefix + step.ToString("D6", CultureInfo.InvariantCulture)) { ["Step"] = step };
        LargeText.Write(entity, "DecisionJson", decisionJson);
        ThrowIfTooLarge(entity, $"The decision of step {step} of run {runId}");
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

    private static void ThrowIfTooLarge(TableEntity entity, string what)
    {
        var size = LargeText.EstimateSize(entity);
        if (size > LargeText.MaxEntityBytes)
        {
            throw new ConversationTooLargeException($"{what} would take {size} bytes; a table entity holds at most {LargeText.MaxEntityBytes}.", size);
        }
    }
}
