using Microsoft.DurableTask;

namespace AgentRuns.Functions.Activities;

/// <summary>
/// An agent's step failed because storage could not be reached, not because of the agent: the orchestration waits and asks
/// again (<c>RunOrchestration.StorageOutageWaits</c>) instead of failing the run with <c>agent_error</c>, as it retries its own
/// writes through an outage. Recognised across the activity boundary by <see cref="Marker"/> in the failure's message as well as
/// by its type, since hosts differ in the error type they report.
/// </summary>
public sealed class StepStorageUnavailableException : Exception
{
    public const string Marker = "[storage_unavailable]";

    public StepStorageUnavailableException()
        : this("Storage could not be reached.")
    {
    }

    public StepStorageUnavailableException(string message)
        : base($"{Marker} {message}")
    {
    }

    public StepStorageUnavailableException(string message, Exception innerException)
        : base($"{Marker} {message}", innerException)
    {
    }

    /// <summary>True when <paramref name="failure"/> (or a failure inside it) is this exception, as an activity reported it.</summary>
    public static bool IsCause(TaskFailureDetails? failure)
    {
        for (var f = failure; f is not null; f = f.InnerFailure)
        {
            if (string.Equals(f.ErrorType, typeof(StepStorageUnavailableException).FullName, StringComparison.Ordinal)
                || f.ErrorMessage?.Contains(Marker, StringComparison.Ordinal) == true)
            {
                return true;
            }
        }

        return false;
    }
}
