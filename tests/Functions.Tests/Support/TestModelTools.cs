using System.Collections.Concurrent;
using System.ComponentModel;
using AgentRuns.Functions.Agents;
using Microsoft.Extensions.AI;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>Tools the test host gives the model agent besides the samples.</summary>
public static class TestModelTools
{
    public const string CrashOnce = "crash_once";
    public const string ArchiveThread = "archive_thread";

    private static readonly ConcurrentDictionary<string, int> Runs = new(StringComparer.Ordinal);

    /// <summary>How often <see cref="CrashOnce"/> ran for this tool call (the first time it "crashed the host").</summary>
    public static int CrashOnceRuns(string runId, string toolCallId) => Runs.GetValueOrDefault($"{runId}|{toolCallId}");

    /// <summary>
    /// A tool whose first run of each call dies the way a host does mid-step: after the model's response was stored, before the
    /// tool's result is (the step fails with something that is not a refusal of the arguments, so the activity is retried).
    /// </summary>
    public static ModelTool CrashOnceTool { get; } = new(AIFunctionFactory.Create(
        ([Description("Anything.")] string note, AIFunctionArguments arguments) =>
        {
            var call = ToolCallContext.Of(arguments);
            if (Runs.AddOrUpdate($"{call.RunId}|{call.ToolCallId}", 1, (_, n) => n + 1) == 1)
            {
                throw new IOException("The host went away mid-step.");
            }

            return $"noted: {note}";
        },
        CrashOnce,
        "Notes something (the first run of each call crashes)."));

    /// <summary>An approval-required tool that does not allow edits.</summary>
    public static ModelTool ArchiveThreadTool { get; } = new(new ApprovalRequiredAIFunction(AIFunctionFactory.Create(
        ([Description("The thread to archive.")] string thread) => $"archived {thread}",
        ArchiveThread,
        "Archives an email thread.")));
}
