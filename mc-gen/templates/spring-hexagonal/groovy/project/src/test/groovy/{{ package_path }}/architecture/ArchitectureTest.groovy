package {{ package }}.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The architecture guardrails, as tests: every slice is a hexagon (a domain that knows nothing
 * but itself, application ports, adapters outside), and slices do not reach into each other.
 * A violation fails {@code mvn verify} and names the rule.
 */
@AnalyzeClasses(packages = "{{ package }}", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    public static final ArchRule domainIsFrameworkFree = noClasses()
            .that().resideInAPackage("{{ package }}.*.domain..")
            .should().dependOnClassesThat().resideOutsideOfPackages(
                    "java..", "groovy..", "org.codehaus.groovy..", "org.apache.groovy..", "{{ package }}.*.domain..")
            ."as"("hexagon: a domain depends on nothing but the JDK and its own slice's domain");

    @ArchTest
    public static final ArchRule applicationDoesNotKnowAdapters = noClasses()
            .that().resideInAPackage("{{ package }}.*.application..")
            .should().dependOnClassesThat().resideInAnyPackage(
                    "{{ package }}.*.adapter..", "org.springframework..")
            ."as"("hexagon: the application layer (ports, use cases) knows neither adapters nor Spring");

    @ArchTest
    public static final ArchRule slicesAreIndependent = slices()
            .matching("{{ package }}.(*)..")
            .should().notDependOnEachOther()
            ."as"("slices: no slice depends on another slice's classes");
}
