namespace AgentRuns.Functions.Model;

/// <summary>Reason codes carried by terminal events and by the run's <c>error</c>.</summary>
public static class RunReasonCodes
{
    public const string SignalTimeout = "signal_timeout";
    public const string CancelledByUser = "cancelled_by_user";
    public const string Rejected = "rejected";
    public const string AgentFailed = "agent_failed";
    public const string AgentError = "agent_error";

    /// <summary>The model agent made <c>ModelAgent:MaxTurns</c> model calls without finishing.</summary>
    public const string AgentTurnLimit = "agent_turn_limit";

    /// <summary>The engine could not carry the run on (its orchestration died, or its writes kept failing).</summary>
    public const string EngineError = "engine_error";

    /// <summary>The agent's output is larger than a run may store (<see cref="RunLimits.MaxOutputChars"/>).</summary>
    public const string OutputTooLarge = "output_too_large";
}
