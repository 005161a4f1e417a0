namespace AgentRuns.Functions.Model;

/// <summary>The statuses of a run, as they appear on the wire and in the run record.</summary>
public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string AwaitingInput = "awaiting_input";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlySet<string> All =
        new HashSet<string>(StringComparer.Ordinal) { Queued, Running, AwaitingInput, Succeeded, Failed, Cancelled };

    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled;
}
