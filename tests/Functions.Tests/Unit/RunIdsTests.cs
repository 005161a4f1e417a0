using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Tests.Unit;

public sealed class RunIdsTests
{
    [Fact]
    public void NewIds_AreWellFormed_Unique_AndSortNewestFirst()
    {
        var t = new DateTimeOffset(2026, 3, 26, 14, 35, 1, TimeSpan.Zero);
        var older = RunIds.New(t);
        var newer = RunIds.New(t.AddMilliseconds(1));
        Assert.True(RunIds.IsWellFormed(older));
        Assert.Matches("^run_[0-9a-z]{26}$", older);
        Assert.True(string.CompareOrdinal(newer, older) < 0, "a newer id must sort before an older one");
        Assert.Equal(1000, Enumerable.Range(0, 1000).Select(_ => RunIds.New(t)).Distinct().Count());
    }

    [Fact]
    public void SeededIds_AreStablePerSeed_AndDifferAcrossSeeds()
    {
        var t = new DateTimeOffset(2026, 3, 26, 14, 35, 1, TimeSpan.Zero);
        Assert.Equal(RunIds.FromSeed(t, "tenant/abc"), RunIds.FromSeed(t, "tenant/abc"));
        Assert.NotEqual(RunIds.FromSeed(t, "tenant/abc"), RunIds.FromSeed(t, "tenant/abd"));
        Assert.True(RunIds.IsWellFormed(RunIds.FromSeed(t, "x")));
    }

    [Theory]
    [InlineData("run_abc123", false, false)]
    [InlineData("run_'or'1'eq'1", false, true)]
    [InlineData("", false, true)]
    [InlineData("run_0000000000000000000000000u", false, false)]
    public void Validation_TellsPlausibleFromMalformed(string id, bool wellFormed, bool malformed)
    {
        Assert.Equal(wellFormed, RunIds.IsWellFormed(id));
        Assert.Equal(malformed, RunIds.IsMalformed(id));
    }
}
